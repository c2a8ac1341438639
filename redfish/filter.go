package redfish

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A small parser and evaluator for the $filter grammar of DSP0266 clause
// 7.3.4: comparisons (eq ne gt ge lt le) between a property path and a
// literal (string in single quotes, number, true, false, null), combined
// with and, or, not and parentheses. Precedence, loosest first: or, and,
// not, comparison.

type filterExpr interface {
	eval(m map[string]any) bool
}

type (
	orExpr  struct{ a, b filterExpr }
	andExpr struct{ a, b filterExpr }
	notExpr struct{ a filterExpr }
	cmpExpr struct {
		op   string
		l, r operand
	}
)

// operand is a property path or a literal.
type operand struct {
	path []string // nil for a literal
	lit  any      // string, float64, bool or nil
}

func (e orExpr) eval(m map[string]any) bool  { return e.a.eval(m) || e.b.eval(m) }
func (e andExpr) eval(m map[string]any) bool { return e.a.eval(m) && e.b.eval(m) }
func (e notExpr) eval(m map[string]any) bool { return !e.a.eval(m) }

func (o operand) value(m map[string]any) any {
	if o.path == nil {
		return o.lit
	}
	var cur any = m
	for _, k := range o.path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[k]
	}
	switch v := cur.(type) {
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return nil
		}
		return f
	case string, float64, bool, nil:
		return v
	}
	return nil // objects and arrays compare as absent
}

func (e cmpExpr) eval(m map[string]any) bool {
	l, r := e.l.value(m), e.r.value(m)
	var c int
	switch lv := l.(type) {
	case string:
		rv, ok := r.(string)
		if !ok {
			return e.op == "ne"
		}
		c = strings.Compare(lv, rv)
	case float64:
		rv, ok := r.(float64)
		if !ok {
			return e.op == "ne"
		}
		switch {
		case lv < rv:
			c = -1
		case lv > rv:
			c = 1
		}
	case bool:
		rv, ok := r.(bool)
		if !ok {
			return e.op == "ne"
		}
		if e.op != "eq" && e.op != "ne" {
			return false
		}
		if lv != rv {
			c = 1
		}
	case nil:
		switch e.op {
		case "eq":
			return r == nil
		case "ne":
			return r != nil
		}
		return false
	}
	switch e.op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

// Limits keep a hostile filter from costing more than a trivial one.
const (
	maxFilterLen   = 1024
	maxFilterDepth = 32
)

var errFilter = errors.New("invalid $filter")

type filterToken struct {
	kind byte // '(' ')' 'w' word, 's' string, 'n' number
	text string
}

func lexFilter(s string) ([]filterToken, error) {
	var out []filterToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')':
			out = append(out, filterToken{kind: c, text: string(c)})
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("%w: unterminated string", errFilter)
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			out = append(out, filterToken{kind: 's', text: b.String()})
			i = j + 1
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(s) && strings.IndexByte("0123456789.eE+-", s[j]) >= 0 {
				j++
			}
			out = append(out, filterToken{kind: 'n', text: s[i:j]})
			i = j
		case isWordByte(c):
			j := i
			for j < len(s) && (isWordByte(s[j]) || s[j] >= '0' && s[j] <= '9' || s[j] == '/' || s[j] == '.') {
				j++
			}
			out = append(out, filterToken{kind: 'w', text: s[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("%w: unexpected %q", errFilter, c)
		}
	}
	return out, nil
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '@' || c == '#'
}

type filterParser struct {
	toks  []filterToken
	pos   int
	depth int
}

// parseFilter parses a $filter value.
func parseFilter(s string) (filterExpr, error) {
	if len(s) > maxFilterLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", errFilter, maxFilterLen)
	}
	toks, err := lexFilter(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("%w: unexpected %q", errFilter, p.toks[p.pos].text)
	}
	return e, nil
}

func (p *filterParser) peekWord(w string) bool {
	return p.pos < len(p.toks) && p.toks[p.pos].kind == 'w' && p.toks[p.pos].text == w
}

func (p *filterParser) or() (filterExpr, error) {
	a, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peekWord("or") {
		p.pos++
		b, err := p.and()
		if err != nil {
			return nil, err
		}
		a = orExpr{a, b}
	}
	return a, nil
}

func (p *filterParser) and() (filterExpr, error) {
	a, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peekWord("and") {
		p.pos++
		b, err := p.unary()
		if err != nil {
			return nil, err
		}
		a = andExpr{a, b}
	}
	return a, nil
}

func (p *filterParser) unary() (filterExpr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", errFilter, maxFilterDepth)
	}
	if p.peekWord("not") {
		p.pos++
		a, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notExpr{a}, nil
	}
	if p.pos < len(p.toks) && p.toks[p.pos].kind == '(' {
		p.pos++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.toks) || p.toks[p.pos].kind != ')' {
			return nil, fmt.Errorf("%w: missing ')'", errFilter)
		}
		p.pos++
		return e, nil
	}
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	if p.pos >= len(p.toks) || p.toks[p.pos].kind != 'w' {
		return nil, fmt.Errorf("%w: expected a comparison operator", errFilter)
	}
	op := p.toks[p.pos].text
	switch op {
	case "eq", "ne", "gt", "ge", "lt", "le":
	default:
		return nil, fmt.Errorf("%w: unknown operator %q", errFilter, op)
	}
	p.pos++
	r, err := p.operand()
	if err != nil {
		return nil, err
	}
	if l.path == nil && r.path == nil {
		return nil, fmt.Errorf("%w: comparison of two literals", errFilter)
	}
	return cmpExpr{op: op, l: l, r: r}, nil
}

func (p *filterParser) operand() (operand, error) {
	if p.pos >= len(p.toks) {
		return operand{}, fmt.Errorf("%w: expression ends early", errFilter)
	}
	t := p.toks[p.pos]
	p.pos++
	switch t.kind {
	case 's':
		return operand{lit: t.text}, nil
	case 'n':
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return operand{}, fmt.Errorf("%w: bad number %q", errFilter, t.text)
		}
		return operand{lit: f}, nil
	case 'w':
		switch t.text {
		case "true":
			return operand{lit: true}, nil
		case "false":
			return operand{lit: false}, nil
		case "null":
			return operand{lit: nil}, nil
		case "and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le":
			return operand{}, fmt.Errorf("%w: unexpected %q", errFilter, t.text)
		}
		path := strings.Split(t.text, "/")
		for _, seg := range path {
			if seg == "" {
				return operand{}, fmt.Errorf("%w: bad property path %q", errFilter, t.text)
			}
		}
		return operand{path: path}, nil
	}
	return operand{}, fmt.Errorf("%w: unexpected %q", errFilter, t.text)
}
