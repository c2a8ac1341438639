// Package netfault is the BMC's protocol fault injector: rules that make
// the management controller misbehave on the wire the way real BMCs do
// (a 503 with Retry-After, a dropped connection, a lost UDP datagram, a
// cold reset), switched at runtime, decided by a seeded PRNG per rule so
// the same seed gives the same choices, and counted so a test can tell
// the BMC's deliberate misbehaviour from a real bug.
//
// It sits below both surfaces, like the accounts and the SEL: redfish/
// and ipmi/ consume a narrow view of it and neither imports the other.
// Rules are test-time state and are not persisted: a restart clears them.
package netfault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Surface is where a fault strikes.
type Surface string

// The surfaces.
const (
	Redfish Surface = "redfish" // Redfish HTTP requests
	Events  Surface = "events"  // Redfish EventService push deliveries
	SSE     Surface = "sse"     // Redfish EventService SSE streams
	IPMI    Surface = "ipmi"    // IPMI over LAN (RMCP+) datagrams
)

const numSurfaces = 4

// surfaceIndex numbers the surfaces for per-surface counts; -1 for none.
func surfaceIndex(s Surface) int {
	switch s {
	case Redfish:
		return 0
	case Events:
		return 1
	case SSE:
		return 2
	case IPMI:
		return 3
	}
	return -1
}

// Kind is what a fault does.
type Kind string

// The kinds; which surface takes which is in Kinds.
const (
	Error         Kind = "error"          // redfish: a 5xx answer
	Delay         Kind = "delay"          // redfish, events, ipmi: late
	Drop          Kind = "drop"           // redfish: connection closed unanswered; events: push never sent
	SessionExpiry Kind = "session-expiry" // redfish: every session ends at once
	StaleETag     Kind = "stale-etag"     // redfish: old ETags out, If-Match refused
	Duplicate     Kind = "duplicate"      // events: pushed twice; ipmi: answer sent twice
	Reorder       Kind = "reorder"        // events: pushed after the next one
	Cut           Kind = "cut"            // sse: stream closed mid-event
	Loss          Kind = "loss"           // ipmi: request datagram lost
	OutOfWindow   Kind = "out-of-window"  // ipmi: answer with a session sequence number outside the window
	ColdReset     Kind = "cold-reset"     // ipmi: the BMC resets, sessions gone, silence for N seconds
)

// KindInfo describes one fault kind of one surface.
type KindInfo struct {
	Surface     Surface `json:"surface"`
	Kind        Kind    `json:"kind"`
	Description string  `json:"description"`
	// Opportunity is what the rule's probability or every-Nth counts.
	Opportunity string `json:"opportunity"`
	// Params are the rule properties the kind takes beyond the trigger.
	Params []string `json:"params,omitempty"`
	// Action kinds with no trigger (probability, every) fire once, when set.
	Action bool `json:"action,omitempty"`
}

var kinds = []KindInfo{
	{Redfish, Error, "answer with a 5xx status and a Redfish error body (503 carries Retry-After)", "a request", []string{"status", "retry_after_seconds"}, false},
	{Redfish, Delay, "answer late: the request waits before it is handled", "a request", []string{"delay"}, false},
	{Redfish, Drop, "close the connection without an answer", "a request", nil, false},
	{Redfish, SessionExpiry, "every Redfish session ends at once (tokens answer 401)", "a request", nil, true},
	{Redfish, StaleETag, "a response carries an ETag that is not current; a write with If-Match is refused with 412 as if the resource had changed", "a response with an ETag, or a write with If-Match", nil, false},
	{Events, Duplicate, "push the event twice (same EventId)", "a push of an event to a subscriber", nil, false},
	{Events, Reorder, "hold the event and push it after the subscriber's next one (or after delay if none comes)", "a push of an event to a subscriber", []string{"delay"}, false},
	{Events, Delay, "push the event late", "a push of an event to a subscriber", []string{"delay"}, false},
	{Events, Drop, "never push the event (it stays in the Event log)", "a push of an event to a subscriber", nil, false},
	{SSE, Cut, "close the stream halfway through an event", "an event written to an SSE stream", nil, false},
	{IPMI, Loss, "lose the request datagram: no answer", "a datagram received", nil, false},
	{IPMI, Delay, "handle the request datagram late", "a datagram received", []string{"delay"}, false},
	{IPMI, Duplicate, "send the in-session answer twice", "an in-session answer", nil, false},
	{IPMI, OutOfWindow, "answer with a session sequence number far outside the console's window (IPMI v2.0 section 6.12.13)", "an in-session answer", nil, false},
	{IPMI, ColdReset, "the BMC cold-resets: every IPMI and Redfish session ends and nothing answers for seconds", "a datagram received", []string{"seconds"}, true},
}

// Kinds lists every surface's fault kinds.
func Kinds() []KindInfo { return append([]KindInfo(nil), kinds...) }

func lookup(s Surface, k Kind) (KindInfo, bool) {
	for _, ki := range kinds {
		if ki.Surface == s && ki.Kind == k {
			return ki, true
		}
	}
	return KindInfo{}, false
}

// Spec is a rule as clients write it (the control API's body).
type Spec struct {
	// Probability (0..1) or Every (every Nth opportunity) triggers the
	// rule; neither is every opportunity (an action kind: once, now).
	Probability *float64 `json:"probability,omitempty"`
	Every       int      `json:"every,omitempty"`
	// Count ends the rule after that many injections; 0 never.
	Count int `json:"count,omitempty"`
	// Duration ends the rule that long after it is set ("30s"); "" never.
	Duration string `json:"duration,omitempty"`
	// Delay is how late (delay kinds; reorder's longest hold): "1500ms".
	Delay string `json:"delay,omitempty"`
	// Status is the error kind's status code (500-599, default 503).
	Status int `json:"status,omitempty"`
	// RetryAfterSeconds is the error kind's Retry-After (default 1 on a
	// 503; 0 leaves the header out).
	RetryAfterSeconds *int `json:"retry_after_seconds,omitempty"`
	// Seconds is how long a cold reset keeps the BMC silent (default 10).
	Seconds int `json:"seconds,omitempty"`
	// Seed seeds the rule's PRNG; absent, the BMC's fault seed.
	Seed *uint64 `json:"seed,omitempty"`
}

// Rule is a validated rule.
type Rule struct {
	Surface     Surface
	Kind        Kind
	Probability float64 // used when Every is 0
	Every       int
	Count       int
	Duration    time.Duration
	Delay       time.Duration
	Status      int
	RetryAfter  int // seconds; 0: no header
	Seconds     int
	Seed        uint64
	seedSet     bool
	triggered   bool // a probability or every was given
}

// Limits on what a rule may ask for: enough for any test, not enough
// to wedge a BMC for a day by a typo.
const (
	maxDelay    = 5 * time.Minute
	maxDuration = 24 * time.Hour
	maxSeconds  = 3600
	maxBody     = 4 << 10
)

// ValidationError names the property at fault.
type ValidationError struct {
	Field string // the JSON property, or "" for the whole body
	Msg   string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func bad(field, format string, a ...any) error {
	return &ValidationError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// ErrUnknownKind is wrapped by the error for a surface/kind pair that
// does not exist.
var ErrUnknownKind = errors.New("unknown protocol fault")

// ParseRule decodes and validates the body of a rule for surface and kind:
// unknown properties, trailing data, out-of-range values and properties
// that do not apply to the kind are refused with the property named.
func ParseRule(surface, kind string, body []byte) (Rule, error) {
	ki, ok := lookup(Surface(surface), Kind(kind))
	if !ok {
		return Rule{}, fmt.Errorf("%w %s/%s (%s)", ErrUnknownKind, surface, kind, kindList())
	}
	if len(body) > maxBody {
		return Rule{}, bad("", "body is %d bytes; at most %d", len(body), maxBody)
	}
	var sp Spec
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sp); err != nil {
			return Rule{}, decodeError(err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return Rule{}, bad("", "trailing data after the object")
		}
	}
	return sp.Rule(ki.Surface, ki.Kind)
}

func decodeError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return bad("", "malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		return bad(te.Field, "must be %s, not %s", te.Type, te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return bad(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown property (see GET /emulator/v1/protocol-faults)")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return bad("", "malformed JSON: unexpected end of input")
	}
	return bad("", "malformed JSON: %v", err)
}

func kindList() string {
	var b strings.Builder
	b.WriteString("one of ")
	for i, k := range kinds {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(k.Surface) + "/" + string(k.Kind))
	}
	return b.String()
}

func takes(ki KindInfo, p string) bool {
	for _, q := range ki.Params {
		if q == p {
			return true
		}
	}
	return false
}

// Rule validates the spec for surface and kind.
func (sp Spec) Rule(s Surface, k Kind) (Rule, error) {
	ki, ok := lookup(s, k)
	if !ok {
		return Rule{}, fmt.Errorf("%w %s/%s (%s)", ErrUnknownKind, s, k, kindList())
	}
	r := Rule{Surface: s, Kind: k, Probability: 1, Count: sp.Count, Every: sp.Every}
	switch {
	case sp.Probability != nil && sp.Every != 0:
		return Rule{}, bad("every", "give probability or every, not both")
	case sp.Probability != nil:
		p := *sp.Probability
		if math.IsNaN(p) || p < 0 || p > 1 {
			return Rule{}, bad("probability", "%v is outside 0..1", p)
		}
		r.Probability, r.triggered = p, true
	case sp.Every < 0:
		return Rule{}, bad("every", "%d: want 1 or more", sp.Every)
	case sp.Every > 0:
		r.triggered = true
	}
	if sp.Count < 0 {
		return Rule{}, bad("count", "%d: want 0 (no limit) or more", sp.Count)
	}
	var err error
	if r.Duration, err = parseDuration("duration", sp.Duration, maxDuration); err != nil {
		return Rule{}, err
	}
	need := func(p string, given bool) error {
		if given && !takes(ki, p) {
			return bad(p, "does not apply to %s/%s", s, k)
		}
		return nil
	}
	for _, c := range []struct {
		p     string
		given bool
	}{{"delay", sp.Delay != ""}, {"status", sp.Status != 0}, {"retry_after_seconds", sp.RetryAfterSeconds != nil}, {"seconds", sp.Seconds != 0}} {
		if err := need(c.p, c.given); err != nil {
			return Rule{}, err
		}
	}
	if takes(ki, "delay") {
		if r.Delay, err = parseDuration("delay", sp.Delay, maxDelay); err != nil {
			return Rule{}, err
		}
		if r.Delay == 0 {
			if k != Reorder {
				return Rule{}, bad("delay", "required for %s/%s (e.g. \"2s\")", s, k)
			}
			r.Delay = time.Second
		}
	}
	if takes(ki, "status") {
		r.Status = sp.Status
		if r.Status == 0 {
			r.Status = 503
		}
		if r.Status < 500 || r.Status > 599 {
			return Rule{}, bad("status", "%d: want a 5xx status", r.Status)
		}
		switch {
		case sp.RetryAfterSeconds != nil:
			r.RetryAfter = *sp.RetryAfterSeconds
			if r.RetryAfter < 0 || r.RetryAfter > maxSeconds {
				return Rule{}, bad("retry_after_seconds", "%d is outside 0..%d", r.RetryAfter, maxSeconds)
			}
		case r.Status == 503:
			r.RetryAfter = 1
		}
	}
	if takes(ki, "seconds") {
		r.Seconds = sp.Seconds
		if r.Seconds == 0 {
			r.Seconds = 10
		}
		if r.Seconds < 1 || r.Seconds > maxSeconds {
			return Rule{}, bad("seconds", "%d is outside 1..%d", r.Seconds, maxSeconds)
		}
	}
	if sp.Seed != nil {
		r.Seed, r.seedSet = *sp.Seed, true
	}
	return r, nil
}

func parseDuration(field, v string, limit time.Duration) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, bad(field, "%q is not a duration (e.g. \"500ms\", \"2s\", \"1m\")", v)
	}
	if d < 0 || d > limit {
		return 0, bad(field, "%s is outside 0..%s", d, limit)
	}
	return d, nil
}

// Spec is the rule as a client would write it, with every default made
// explicit (what GET shows and what replays it).
func (r Rule) Spec() Spec {
	sp := Spec{Count: r.Count}
	switch {
	case r.Every > 0:
		sp.Every = r.Every
	case r.triggered:
		p := r.Probability
		sp.Probability = &p
	}
	if r.Duration > 0 {
		sp.Duration = r.Duration.String()
	}
	if r.Delay > 0 {
		sp.Delay = r.Delay.String()
	}
	if r.Status != 0 {
		sp.Status = r.Status
		ra := r.RetryAfter
		sp.RetryAfterSeconds = &ra
	}
	sp.Seconds = r.Seconds
	seed := r.Seed
	sp.Seed = &seed
	return sp
}
