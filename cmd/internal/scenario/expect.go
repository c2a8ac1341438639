package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Expect checks one surface, again and again until it holds or Within of
// simulated time has passed (surfaces are eventually consistent: a hot-add
// takes seconds, an event is pushed after the fact).
type Expect struct {
	// Within is how long the state may take to appear, on the simulated
	// clock; 0 checks once (after the settling time asynchronous surfaces
	// get, see Options.Settle).
	Within time.Duration `yaml:"within"`

	// Redfish is a property of a Redfish resource.
	Redfish *PropertyCheck `yaml:"redfish"`
	// OS is a value of the in-band OS's view: the control API's
	// /emulator/v1/os/... (path "meminfo", "blocks/32", ...).
	OS *PropertyCheck `yaml:"os"`
	// Emulator is any other control API resource (path "ras",
	// "slots/CPU0_DIMM_A2", "host").
	Emulator *PropertyCheck `yaml:"emulator"`
	// SEL is a record of the System Event Log, read over IPMI.
	SEL *SELCheck `yaml:"sel"`
	// Event is a Redfish event pushed to the engine's own subscription.
	Event *EventCheck `yaml:"event"`
	// ProtocolFault is the count of a protocol fault kind's injections
	// since the scenario started.
	ProtocolFault *ProtocolFaultCheck `yaml:"protocol_fault"`
	// IPMI is whether the BMC answers IPMI over LAN at all.
	IPMI *IPMICheck `yaml:"ipmi"`

	check checker
}

// PropertyCheck compares one property of a JSON resource. Property is a
// dotted path ("Status.State", "Members[0].@odata.id", "MemTotal"); empty
// is the whole document. Exactly one comparison is given.
type PropertyCheck struct {
	Path     string   `yaml:"path" validate:"required,max=1024"`
	Property string   `yaml:"property" validate:"max=256"`
	Equals   any      `yaml:"equals"`
	Not      any      `yaml:"not_equals"`
	AtLeast  *float64 `yaml:"at_least"`
	AtMost   *float64 `yaml:"at_most"`
	Contains any      `yaml:"contains"`
	Absent   bool     `yaml:"absent"`
	// Status (redfish only) is the HTTP status a GET of Path answers
	// with (503 while a protocol fault is live); no property is read.
	Status int `yaml:"status" validate:"omitempty,min=100,max=599"`
}

// SELCheck wants at least Count (default 1) SEL records, logged since the
// scenario started, on the sensor named Sensor (its SDR name:
// CPU0_DIMM_A2, CPU0_SLOT_A2, MEM_REDUNDANCY) with event offset Offset
// (IPMI v2.0 Table 42-3), asserted unless Deassert.
type SELCheck struct {
	Sensor   string `yaml:"sensor" validate:"required,max=16"`
	Offset   *int   `yaml:"offset" validate:"required,min=0,max=15"`
	Deassert bool   `yaml:"deassert"`
	Count    int    `yaml:"count" validate:"omitempty,min=1,max=100000"`
}

// EventCheck wants at least Count (default 1) events with MessageId
// received by the engine's subscription since the scenario started.
// MessageId is a full one (ResourceEvent.1.4.3.ResourceErrorsCorrected)
// or without the version (ResourceEvent.ResourceErrorsCorrected); Origin,
// when given, is the OriginOfCondition's @odata.id.
type EventCheck struct {
	MessageID string `yaml:"message_id" validate:"required,max=256"`
	Origin    string `yaml:"origin" validate:"max=1024"`
	Count     int    `yaml:"count" validate:"omitempty,min=1,max=1000000"`
	// Duplicates, when given, is how many of the matching events carry
	// an EventId already received (a push duplicated by a protocol
	// fault, or a retry): exactly that many.
	Duplicates *int `yaml:"duplicates" validate:"omitempty,min=0,max=1000000"`
}

// Mismatch is a failed expectation: what was expected and what was seen.
type Mismatch struct {
	Expected string
	Seen     string
	// Diff, when set, is a line diff of expected and seen documents.
	Diff string
}

func (m *Mismatch) Error() string {
	s := "expected: " + m.Expected + "\n    seen: " + m.Seen
	if m.Diff != "" {
		s += "\n" + m.Diff
	}
	return s
}

// checker is one surface's check, run until it passes or time is up.
type checker interface {
	describe() string
	check(ctx context.Context, env *Env) error // nil, *Mismatch, or an error
	// async says the surface is written by the BMC's own goroutines
	// after the hardware step (the SEL, event pushes), not read from
	// the hardware's state as it is.
	async() bool
}

func (e *Expect) resolve() error {
	var set []string
	if e.Redfish != nil {
		set = append(set, "redfish")
		e.check = &propertyChecker{surface: "redfish", c: e.Redfish}
	}
	if e.OS != nil {
		set = append(set, "os")
		e.check = &propertyChecker{surface: "os", c: e.OS}
	}
	if e.Emulator != nil {
		set = append(set, "emulator")
		e.check = &propertyChecker{surface: "emulator", c: e.Emulator}
	}
	if e.SEL != nil {
		set = append(set, "sel")
		e.check = (*selChecker)(e.SEL)
	}
	if e.Event != nil {
		set = append(set, "event")
		e.check = (*eventChecker)(e.Event)
	}
	if e.ProtocolFault != nil {
		set = append(set, "protocol_fault")
		e.check = (*protocolFaultChecker)(e.ProtocolFault)
	}
	if e.IPMI != nil {
		set = append(set, "ipmi")
		e.check = (*ipmiChecker)(e.IPMI)
	}
	if e.Within < 0 {
		return &fieldError{".expect.within", "is not negative"}
	}
	switch len(set) {
	case 0:
		return &fieldError{".expect", "names one surface: redfish, os, emulator, sel, event, protocol_fault or ipmi"}
	case 1:
	default:
		return &fieldError{".expect", fmt.Sprintf("names one surface; this one names %s (one expect step each)", strings.Join(set, " and "))}
	}
	if pc, ok := e.check.(*propertyChecker); ok {
		if pc.c.Status != 0 && pc.surface != "redfish" {
			return &fieldError{".expect." + pc.surface + ".status", "is a Redfish answer's: only expect.redfish takes it"}
		}
		if err := pc.c.validate(); err != nil {
			return &fieldError{".expect." + pc.surface, err.Error()}
		}
	}
	if e.ProtocolFault != nil {
		return e.ProtocolFault.validate()
	}
	return nil
}

func (e *Expect) Describe() string {
	s := "expect " + e.check.describe()
	if e.Within > 0 {
		s += " within " + e.Within.String()
	}
	return s
}

// Run checks until the expectation holds: on the simulated clock for up
// to Within (advancing it in ticks), then for the settling time on the
// wall clock, since some surfaces (the SEL, event delivery) are written by
// the BMC's own goroutines after the hardware step that caused them, and
// a server's own clock may lag. A synchronous surface on a stepped clock
// has nothing to wait for.
func (e *Expect) Run(ctx context.Context, env *Env) error {
	deadline := env.Clock.Elapsed() + e.Within
	tick := max(min(e.Within/50, 250*time.Millisecond), 10*time.Millisecond)
	var last error
	for {
		if last = e.check.check(ctx, env); last == nil {
			return nil
		}
		if _, ok := last.(*Mismatch); !ok {
			return last
		}
		now := env.Clock.Elapsed()
		if now >= deadline {
			break
		}
		if err := env.Clock.Poll(ctx, min(tick, deadline-now)); err != nil {
			return err
		}
	}
	if env.Clock.Exact() && !e.check.async() {
		return last
	}
	settle := time.NewTimer(env.Settle)
	defer settle.Stop()
	// The BMC's goroutines usually catch up within a millisecond or two:
	// poll soon, then back off.
	wait := time.Millisecond
	for {
		poll := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			poll.Stop()
			return ctx.Err()
		case <-settle.C:
			poll.Stop()
			return last
		case <-poll.C:
			if last = e.check.check(ctx, env); last == nil {
				return nil
			}
			if _, ok := last.(*Mismatch); !ok {
				return last
			}
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// propertyChecker reads a JSON resource and compares one property.
type propertyChecker struct {
	surface string // redfish, os, emulator
	c       *PropertyCheck
}

func (c *PropertyCheck) validate() error {
	if c.Status != 0 {
		if c.Property != "" || c.Equals != nil || c.Not != nil || c.AtLeast != nil || c.AtMost != nil || c.Contains != nil || c.Absent {
			return fmt.Errorf("status checks the answer's HTTP status alone: no property or comparison with it")
		}
		return nil
	}
	n := 0
	for _, set := range []bool{c.Equals != nil, c.Not != nil, c.AtLeast != nil, c.AtMost != nil, c.Contains != nil, c.Absent} {
		if set {
			n++
		}
	}
	if n != 1 && !(n == 2 && c.AtLeast != nil && c.AtMost != nil) {
		return fmt.Errorf("give one comparison: equals, not_equals, at_least and/or at_most, contains or absent (got %d)", n)
	}
	if strings.ContainsAny(c.Path, "?#") || strings.Contains(c.Path, "..") {
		return fmt.Errorf("path %q: want a resource path (no query, fragment or \"..\")", c.Path)
	}
	return nil
}

func (p *propertyChecker) url() string {
	path := p.c.Path
	switch p.surface {
	case "redfish":
		if !strings.HasPrefix(path, "/redfish/") {
			path = "/redfish/v1/" + strings.TrimPrefix(path, "/")
		}
	case "os":
		path = "/os/" + strings.TrimPrefix(strings.TrimPrefix(path, "/"), "os/")
	default:
		path = "/" + strings.TrimPrefix(path, "/")
	}
	return path
}

func (p *propertyChecker) async() bool { return false }

func (p *propertyChecker) describe() string {
	c := p.c
	what := p.surface + " " + p.url()
	if c.Property != "" {
		what += " " + c.Property
	}
	return what + " " + c.comparison()
}

func (c *PropertyCheck) comparison() string {
	switch {
	case c.Status != 0:
		return fmt.Sprintf("answers HTTP %d", c.Status)
	case c.Equals != nil:
		return "== " + show(c.Equals)
	case c.Not != nil:
		return "!= " + show(c.Not)
	case c.AtLeast != nil && c.AtMost != nil:
		return "in [" + num(*c.AtLeast) + ", " + num(*c.AtMost) + "]"
	case c.AtLeast != nil:
		return ">= " + num(*c.AtLeast)
	case c.AtMost != nil:
		return "<= " + num(*c.AtMost)
	case c.Contains != nil:
		return "contains " + show(c.Contains)
	}
	return "absent"
}

func (p *propertyChecker) check(ctx context.Context, env *Env) error {
	var doc any
	var err error
	if p.c.Status != 0 {
		return p.checkStatus(ctx, env)
	}
	if p.surface == "redfish" {
		err = env.Redfish.Get(ctx, p.url(), &doc)
	} else {
		err = env.Control.Get(ctx, p.url(), &doc)
	}
	if err != nil {
		// A resource that is not there yet (a Memory of an empty slot's
		// successor, the OS views while the host boots) is a state
		// still to be reached, not a broken step.
		if st, ok := httpStatus(err); ok && (st == 404 || st == 409 || st == 503) {
			return &Mismatch{Expected: p.describe(), Seen: err.Error()}
		}
		return err
	}
	return p.c.compare(doc)
}

// checkStatus GETs the Redfish resource and compares the answer's status;
// a connection that ends unanswered is seen as such, not an error of the
// step (a protocol fault may drop it).
func (p *propertyChecker) checkStatus(ctx context.Context, env *Env) error {
	err := env.Redfish.Get(ctx, p.url(), nil)
	seen := "HTTP 200"
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		st, ok := httpStatus(err)
		if !ok {
			return &Mismatch{Expected: p.describe(), Seen: err.Error()}
		}
		if st == p.c.Status {
			return nil
		}
		seen = err.Error()
	} else if p.c.Status == 200 {
		return nil
	}
	return &Mismatch{Expected: p.describe(), Seen: seen}
}

// compare applies the comparison to doc's property.
func (c *PropertyCheck) compare(doc any) error {
	v, found := lookup(doc, c.Property)
	if c.Absent {
		if found {
			return &Mismatch{Expected: c.Property + " absent", Seen: show(v)}
		}
		return nil
	}
	if !found {
		return &Mismatch{Expected: c.Property + " " + c.comparison(), Seen: c.Property + " absent from the resource"}
	}
	want := c.Property + " " + c.comparison()
	switch {
	case c.Equals != nil:
		if !equal(c.Equals, v) {
			return &Mismatch{Expected: want, Seen: show(v), Diff: lineDiff(pretty(normalize(c.Equals)), pretty(v))}
		}
	case c.Not != nil:
		if equal(c.Not, v) {
			return &Mismatch{Expected: want, Seen: show(v)}
		}
	case c.AtLeast != nil || c.AtMost != nil:
		f, ok := number(v)
		if !ok {
			return &Mismatch{Expected: want, Seen: show(v) + " (not a number)"}
		}
		if c.AtLeast != nil && f < *c.AtLeast || c.AtMost != nil && f > *c.AtMost {
			return &Mismatch{Expected: want, Seen: show(v)}
		}
	case c.Contains != nil:
		if !contains(v, c.Contains) {
			return &Mismatch{Expected: want, Seen: show(v)}
		}
	}
	return nil
}

// lookup follows a dotted property path. A key may itself hold dots
// ("@odata.id", "Oem.Bmcemu" is two): at each level the longest run of
// segments that names a key wins. "[N]" indexes an array.
func lookup(doc any, path string) (any, bool) {
	if path == "" {
		return doc, true
	}
	segs := strings.Split(path, ".")
	cur := doc
	for i := 0; i < len(segs); {
		seg := segs[i]
		m, ok := cur.(map[string]any)
		if !ok {
			// An array document or element: "[N]" indexes it.
			_, idx := splitIndex("x" + seg)
			if !strings.HasPrefix(seg, "[") || idx == nil {
				return nil, false
			}
			for _, ix := range idx {
				arr, isArr := cur.([]any)
				if !isArr || ix < 0 || ix >= len(arr) {
					return nil, false
				}
				cur = arr[ix]
			}
			i++
			continue
		}
		matched := false
		for j := len(segs); j > i; j-- {
			key := strings.Join(segs[i:j], ".")
			name, idx := splitIndex(key)
			v, has := m[name]
			if !has {
				continue
			}
			for _, ix := range idx {
				arr, isArr := v.([]any)
				if !isArr || ix < 0 || ix >= len(arr) {
					return nil, false
				}
				v = arr[ix]
			}
			cur, i, matched = v, j, true
			break
		}
		if !matched {
			return nil, false
		}
	}
	return cur, true
}

// splitIndex cuts "Members[0][1]" into "Members" and [0 1].
func splitIndex(key string) (string, []int) {
	name, rest, ok := strings.Cut(key, "[")
	if !ok || !strings.HasSuffix(rest, "]") {
		return key, nil
	}
	var idx []int
	for _, part := range strings.Split(strings.TrimSuffix(rest, "]"), "][") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return key, nil
		}
		idx = append(idx, n)
	}
	return name, idx
}

// normalize turns a YAML-decoded value into what encoding/json decodes:
// numbers as float64, maps keyed by string.
func normalize(v any) any {
	b, err := json.Marshal(toJSONable(v))
	if err != nil {
		return v
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return v
	}
	return out
}

func toJSONable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = toJSONable(x)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[fmt.Sprint(k)] = toJSONable(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = toJSONable(x)
		}
		return out
	}
	return v
}

func equal(want, seen any) bool { return reflect.DeepEqual(normalize(want), seen) }

func number(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}

func contains(v, want any) bool {
	switch t := v.(type) {
	case string:
		s, ok := want.(string)
		return ok && strings.Contains(t, s)
	case []any:
		for _, x := range t {
			if equal(want, x) {
				return true
			}
		}
	case map[string]any:
		s, ok := want.(string)
		_, has := t[s]
		return ok && has
	}
	return false
}

func show(v any) string {
	b, err := json.Marshal(toJSONable(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 400 {
		return string(b[:400]) + "..."
	}
	return string(b)
}

func pretty(v any) string {
	b, err := json.MarshalIndent(toJSONable(v), "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// lineDiff is a line diff of two short documents ("-" expected, "+"
// seen); "" when both are one line (the expected/seen lines say it all).
func lineDiff(want, seen string) string {
	a, b := strings.Split(want, "\n"), strings.Split(seen, "\n")
	if len(a) == 1 && len(b) == 1 || len(a)*len(b) > 1<<20 {
		return ""
	}
	// Longest common subsequence table, then walk it.
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out.WriteString("      " + a[i] + "\n")
			i, j = i+1, j+1
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("    + " + b[j] + "\n")
			j++
		default:
			out.WriteString("    - " + a[i] + "\n")
			i++
		}
	}
	return strings.TrimRight(out.String(), "\n")
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
