package mockups

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind says how a resource or property differs.
type Kind int

const (
	// OnlyInA: present in the first tree, absent from the second.
	OnlyInA Kind = iota + 1
	// OnlyInB: present in the second tree, absent from the first.
	OnlyInB
	// Changed: present in both with different values.
	Changed
)

func (k Kind) String() string {
	switch k {
	case OnlyInA:
		return "only-in-a"
	case OnlyInB:
		return "only-in-b"
	case Changed:
		return "changed"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText makes Kind readable in JSON output.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Difference is one way two trees disagree. Pointer is an RFC 6901 JSON
// pointer into the resource, empty when the whole resource is only on one
// side. A and B hold the values on each side (compact JSON, nil when
// absent or when the whole resource is).
type Difference struct {
	Kind     Kind            `json:"kind"`
	Resource string          `json:"resource"`
	Pointer  string          `json:"pointer,omitempty"`
	A        json.RawMessage `json:"a,omitempty"`
	B        json.RawMessage `json:"b,omitempty"`
}

// String renders d on one line, e.g.
// "/redfish/v1/Systems/1: /MemorySummary/TotalSystemMemoryGiB: 512 != 576".
func (d Difference) String() string {
	if d.Pointer == "" {
		switch d.Kind {
		case OnlyInA:
			return d.Resource + ": only in A"
		case OnlyInB:
			return d.Resource + ": only in B"
		}
		return d.Resource + ": " + shorten(d.A) + " != " + shorten(d.B)
	}
	return d.Resource + ": " + d.Pointer + ": " + shorten(d.A) + " != " + shorten(d.B)
}

// shorten keeps a line readable when a whole object differs; the full
// value is in the Difference for anyone who needs it.
func shorten(v json.RawMessage) string {
	const max = 100
	if v == nil {
		return "(absent)"
	}
	s := string(v)
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// DefaultIgnore lists the properties that change without the resource
// changing: clocks, timestamps and the ETag derived from them. It returns
// a fresh slice each call, so callers may extend it.
func DefaultIgnore() []string {
	return []string{"@odata.etag", "DateTime", "DateTimeLocalOffset", "Created", "Modified"}
}

// DiffOptions configures DiffWith.
type DiffOptions struct {
	// Ignore names properties left out of the comparison. An entry
	// starting with "/" is a JSON pointer, ignored (with everything
	// beneath it) in every resource; any other entry is a property name
	// ignored at any depth.
	Ignore []string
}

// Diff compares two trees ignoring DefaultIgnore.
func Diff(a, b Tree) []Difference {
	return DiffWith(a, b, DiffOptions{Ignore: DefaultIgnore()})
}

// DiffWith compares two trees. Resources come in path order, and the
// differences within one resource in document order with object keys
// sorted, so the output is stable from run to run.
//
// Arrays of links (every element an object with a distinct @odata.id, as
// in Members) are matched by @odata.id rather than by position: a module
// seated in the middle of a collection is one added member, not a shift
// of every member after it.
func DiffWith(a, b Tree, o DiffOptions) []Difference {
	d := differ{names: map[string]bool{}, pointers: map[string]bool{}}
	for _, s := range o.Ignore {
		if strings.HasPrefix(s, "/") {
			d.pointers[s] = true
		} else {
			d.names[s] = true
		}
	}
	keys := make(map[string]bool, len(a)+len(b))
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	paths := make([]string, 0, len(keys))
	for k := range keys {
		paths = append(paths, k)
	}
	slices.Sort(paths)
	for _, p := range paths {
		ra, inA := a[p]
		rb, inB := b[p]
		switch {
		case !inB:
			d.out = append(d.out, Difference{Kind: OnlyInA, Resource: p})
		case !inA:
			d.out = append(d.out, Difference{Kind: OnlyInB, Resource: p})
		default:
			d.resource(p, ra, rb)
		}
	}
	return d.out
}

type differ struct {
	names    map[string]bool
	pointers map[string]bool
	res      string
	out      []Difference
}

func (d *differ) resource(p string, ra, rb json.RawMessage) {
	va, errA := decode(ra)
	vb, errB := decode(rb)
	if errA != nil || errB != nil {
		// Without structure the bytes are all there is to compare.
		if !bytes.Equal(ra, rb) {
			d.out = append(d.out, Difference{Kind: Changed, Resource: p, A: ra, B: rb})
		}
		return
	}
	d.res = p
	d.value("", va, vb)
}

func decode(b json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	// Numbers stay as written so 64-bit counters and serials compare
	// exactly rather than through float64.
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return v, nil
}

func (d *differ) add(k Kind, ptr string, va, vb any) {
	if d.pointers[ptr] {
		return
	}
	diff := Difference{Kind: k, Resource: d.res, Pointer: ptr}
	if k != OnlyInB {
		diff.A = encode(va)
	}
	if k != OnlyInA {
		diff.B = encode(vb)
	}
	d.out = append(d.out, diff)
}

func encode(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		// Values come from decoding JSON, so they always encode.
		return json.RawMessage(strconv.Quote(fmt.Sprint(v)))
	}
	return b
}

func (d *differ) value(ptr string, va, vb any) {
	if d.pointers[ptr] {
		return
	}
	switch a := va.(type) {
	case map[string]any:
		if b, ok := vb.(map[string]any); ok {
			d.object(ptr, a, b)
			return
		}
	case []any:
		if b, ok := vb.([]any); ok {
			d.array(ptr, a, b)
			return
		}
	case json.Number:
		if b, ok := vb.(json.Number); ok && numEqual(a, b) {
			return
		}
	default:
		// Strings, bools and null compare directly.
		if va == vb {
			return
		}
	}
	d.add(Changed, ptr, va, vb)
}

func (d *differ) object(ptr string, a, b map[string]any) {
	keys := sortedKeys(a)
	for _, k := range sortedKeys(b) {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if d.names[k] {
			continue
		}
		p := ptr + "/" + escapePointer(k)
		va, inA := a[k]
		vb, inB := b[k]
		switch {
		case !inB:
			d.add(OnlyInA, p, va, nil)
		case !inA:
			d.add(OnlyInB, p, nil, vb)
		default:
			d.value(p, va, vb)
		}
	}
}

func (d *differ) array(ptr string, a, b []any) {
	ia, okA := linkIndex(a)
	ib, okB := linkIndex(b)
	if okA && okB {
		for i, e := range a {
			p := ptr + "/" + strconv.Itoa(i)
			if j, ok := ib[linkID(e)]; ok {
				d.value(p, e, b[j])
			} else {
				d.add(OnlyInA, p, e, nil)
			}
		}
		for j, e := range b {
			if _, ok := ia[linkID(e)]; !ok {
				d.add(OnlyInB, ptr+"/"+strconv.Itoa(j), nil, e)
			}
		}
		return
	}
	for i := range max(len(a), len(b)) {
		p := ptr + "/" + strconv.Itoa(i)
		switch {
		case i >= len(b):
			d.add(OnlyInA, p, a[i], nil)
		case i >= len(a):
			d.add(OnlyInB, p, nil, b[i])
		default:
			d.value(p, a[i], b[i])
		}
	}
}

// linkIndex maps @odata.id to position when every element of s is a link
// with a distinct id; otherwise positions are all that identify elements.
func linkIndex(s []any) (map[string]int, bool) {
	if len(s) == 0 {
		return nil, false
	}
	idx := make(map[string]int, len(s))
	for i, e := range s {
		id := linkID(e)
		if id == "" {
			return nil, false
		}
		if _, dup := idx[id]; dup {
			return nil, false
		}
		idx[id] = i
	}
	return idx, true
}

func linkID(e any) string {
	m, ok := e.(map[string]any)
	if !ok {
		return ""
	}
	id, _ := m["@odata.id"].(string)
	return id
}

// numEqual compares JSON numbers by value, so 512 equals 512.0 and 5e2,
// while integers beyond float64's 53 bits still compare exactly.
func numEqual(a, b json.Number) bool {
	if a == b {
		return true
	}
	if isInt(a) && isInt(b) {
		x, okX := new(big.Int).SetString(string(a), 10)
		y, okY := new(big.Int).SetString(string(b), 10)
		return okX && okY && x.Cmp(y) == 0
	}
	x, errX := strconv.ParseFloat(string(a), 64)
	y, errY := strconv.ParseFloat(string(b), 64)
	return errX == nil && errY == nil && x == y
}

func isInt(n json.Number) bool { return !strings.ContainsAny(string(n), ".eE") }

// escapePointer escapes a property name as an RFC 6901 reference token.
func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
