package netfault

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
)

func mustRule(t *testing.T, s, k, body string) Rule {
	t.Helper()
	r, err := ParseRule(s, k, []byte(body))
	if err != nil {
		t.Fatalf("ParseRule(%s, %s, %s): %v", s, k, body, err)
	}
	return r
}

func decisions(in *Injector, s Surface, k Kind, n int) []bool {
	out := make([]bool, n)
	for i := range out {
		_, out[i] = in.Decide(s, k, "x")
	}
	return out
}

// Same seed, same decisions; another seed, others; and rules of other
// kinds with the same seed are not in step with it.
func TestDeterministicUnderSeed(t *testing.T) {
	run := func(seed string, k Kind) []bool {
		in := New(Options{})
		if _, err := in.Set(mustRule(t, "redfish", string(k), `{"probability":0.5,"seed":`+seed+`}`)); err != nil {
			t.Fatal(err)
		}
		return decisions(in, Redfish, k, 200)
	}
	a, b := run("42", Error), run("42", Error)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave different decisions")
	}
	if reflect.DeepEqual(a, run("43", Error)) {
		t.Error("seeds 42 and 43 gave the same 200 decisions")
	}
	if reflect.DeepEqual(a, run("42", Drop)) {
		t.Error("error and drop with one seed decide in step")
	}
	hits := 0
	for _, h := range a {
		if h {
			hits++
		}
	}
	if hits < 60 || hits > 140 {
		t.Errorf("probability 0.5 struck %d of 200", hits)
	}
}

// The BMC's fault seed applies when a rule gives none, and GET shows it.
func TestDefaultSeedIsTheBMCs(t *testing.T) {
	in := New(Options{Seed: 7})
	st, err := in.Set(mustRule(t, "ipmi", "loss", `{"probability":0.3}`))
	if err != nil {
		t.Fatal(err)
	}
	if st.Seed == nil || *st.Seed != 7 {
		t.Fatalf("seed shown %v, want 7", st.Seed)
	}
	other := New(Options{})
	_, _ = other.Set(mustRule(t, "ipmi", "loss", `{"probability":0.3,"seed":7}`))
	if !reflect.DeepEqual(decisions(in, IPMI, Loss, 100), decisions(other, IPMI, Loss, 100)) {
		t.Error("the default seed 7 and an explicit seed 7 decide differently")
	}
}

func TestEveryCountAndDuration(t *testing.T) {
	now := time.Unix(1000, 0)
	in := New(Options{Now: func() time.Time { return now }})
	_, _ = in.Set(mustRule(t, "events", "duplicate", `{"every":3,"count":2}`))
	got := decisions(in, Events, Duplicate, 9)
	want := []bool{false, false, true, false, false, true, false, false, false}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("every 3, count 2: %v", got)
	}
	if n := len(in.Status().Rules); n != 0 {
		t.Errorf("a spent rule is still listed (%d rules)", n)
	}
	_, _ = in.Set(mustRule(t, "redfish", "drop", `{"duration":"10s"}`))
	if _, hit := in.Decide(Redfish, Drop, "GET /"); !hit {
		t.Fatal("a rule with no trigger must strike every opportunity")
	}
	now = now.Add(10 * time.Second)
	if _, hit := in.Decide(Redfish, Drop, "GET /"); hit {
		t.Fatal("the rule struck after its duration")
	}
	tot, _ := in.Totals()
	wantN := map[key]uint64{{Events, Duplicate}: 2, {Redfish, Drop}: 1}
	for _, c := range tot {
		if c.Injected != wantN[key{c.Surface, c.Kind}] {
			t.Errorf("%s/%s injected %d, want %d", c.Surface, c.Kind, c.Injected, wantN[key{c.Surface, c.Kind}])
		}
	}
}

func TestActionKindsFireWhenSet(t *testing.T) {
	now := time.Unix(1000, 0)
	in := New(Options{Now: func() time.Time { return now }})
	fired, resets := 0, 0
	in.OnAction(Redfish, SessionExpiry, func(Rule) { fired++ })
	in.OnReset(func() { resets++ })
	st, err := in.Set(mustRule(t, "redfish", "session-expiry", ``))
	if err != nil || !st.Fired || fired != 1 {
		t.Fatalf("session-expiry set: %+v %v, hooks %d", st, err, fired)
	}
	if _, err := in.Set(mustRule(t, "ipmi", "cold-reset", `{"seconds":5}`)); err != nil {
		t.Fatal(err)
	}
	if !in.Resetting() || resets != 1 {
		t.Fatalf("after cold-reset: resetting %v, hooks %d", in.Resetting(), resets)
	}
	if _, err := in.Set(mustRule(t, "ipmi", "cold-reset", `{"seconds":5}`)); !errors.Is(err, ErrResetting) {
		t.Errorf("a reset during a reset: %v", err)
	}
	now = now.Add(5 * time.Second)
	if in.Resetting() {
		t.Error("still resetting after its seconds")
	}
	if err := in.StartReset(time.Second, "command"); err != nil {
		t.Fatal(err)
	}
	if st := in.Status(); st.ColdResets["fault"] != 1 || st.ColdResets["command"] != 1 || len(st.Rules) != 0 {
		t.Errorf("status: %+v", st)
	}
	// With a trigger an action kind is a rule like any other.
	if st, err := in.Set(mustRule(t, "redfish", "session-expiry", `{"every":2}`)); err != nil || st.Fired {
		t.Fatalf("triggered session-expiry: %+v %v", st, err)
	}
	if got := decisions(in, Redfish, SessionExpiry, 4); !reflect.DeepEqual(got, []bool{false, true, false, true}) {
		t.Errorf("every 2: %v", got)
	}
}

func TestParseRuleErrorsNameTheProperty(t *testing.T) {
	for _, c := range []struct{ s, k, body, want string }{
		{"redfish", "nope", ``, "unknown protocol fault redfish/nope"},
		{"ipmi", "error", ``, "unknown protocol fault ipmi/error"},
		{"redfish", "error", `{"probability":1.5}`, "probability: 1.5 is outside 0..1"},
		{"redfish", "error", `{"probability":0.5,"every":2}`, "every: give probability or every, not both"},
		{"redfish", "error", `{"every":-1}`, "every: -1"},
		{"redfish", "error", `{"count":-1}`, "count: -1"},
		{"redfish", "error", `{"status":404}`, "status: 404: want a 5xx status"},
		{"redfish", "error", `{"retry_after_seconds":-3}`, "retry_after_seconds: -3"},
		{"redfish", "drop", `{"delay":"1s"}`, "delay: does not apply to redfish/drop"},
		{"redfish", "delay", `{}`, "delay: required for redfish/delay"},
		{"redfish", "delay", `{"delay":"soon"}`, `delay: "soon" is not a duration`},
		{"ipmi", "delay", `{"delay":"1h"}`, "delay: 1h0m0s is outside 0..5m0s"},
		{"ipmi", "cold-reset", `{"seconds":99999}`, "seconds: 99999 is outside 1..3600"},
		{"ipmi", "loss", `{"probabilty":0.5}`, "probabilty: unknown property"},
		{"ipmi", "loss", `{"probability":"half"}`, "probability: must be float64, not string"},
		{"ipmi", "loss", `{"count":1} {}`, "trailing data"},
		{"ipmi", "loss", `{"count":`, "unexpected end of input"},
	} {
		_, err := ParseRule(c.s, c.k, []byte(c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseRule(%s, %s, %s) = %v, want %q", c.s, c.k, c.body, err, c.want)
		}
	}
}

func TestDefaultsAreExplicitInSpec(t *testing.T) {
	r := mustRule(t, "redfish", "error", `{"count":2}`)
	b, _ := json.Marshal(r.Spec())
	if string(b) != `{"count":2,"status":503,"retry_after_seconds":1,"seed":0}` {
		t.Errorf("spec %s", b)
	}
	if r := mustRule(t, "redfish", "error", `{"status":500}`); r.RetryAfter != 0 {
		t.Errorf("a 500 got Retry-After %d by default", r.RetryAfter)
	}
}

func TestConcurrentDecideAndSet(t *testing.T) {
	in := New(Options{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 500; j++ {
				in.Decide(IPMI, Loss, "x")
				_ = in.Status()
			}
		}()
	}
	for j := 0; j < 50; j++ {
		_, _ = in.Set(mustRule(t, "ipmi", "loss", `{"probability":0.5}`))
		_, _ = in.Clear("all", "all")
	}
	wg.Wait()
}

// FuzzParseRule: any body for any surface and kind is refused with an
// error or gives a rule whose explicit spec parses back to the same rule.
func FuzzParseRule(f *testing.F) {
	f.Add("redfish", "error", []byte(`{"every":2,"count":3,"status":500,"retry_after_seconds":5}`))
	f.Add("ipmi", "cold-reset", []byte(`{"seconds":3}`))
	f.Add("events", "reorder", []byte(`{"probability":0.25,"delay":"250ms","seed":9,"duration":"1m"}`))
	f.Add("sse", "cut", []byte(``))
	f.Add("redfish", "delay", []byte(`{"delay":"1s"} x`))
	f.Fuzz(func(t *testing.T, s, k string, body []byte) {
		r, err := ParseRule(s, k, body)
		if err != nil {
			return
		}
		b, err := json.Marshal(r.Spec())
		if err != nil {
			t.Fatal(err)
		}
		r2, err := ParseRule(s, k, b)
		if err != nil {
			t.Fatalf("the spec of a valid rule does not parse: %s: %v", b, err)
		}
		if r.seedSet {
			r2.seedSet = true
		} else {
			r2.Seed, r2.seedSet = r.Seed, false
		}
		if r != r2 {
			t.Fatalf("round trip changed the rule:\n%+v\n%+v", r, r2)
		}
	})
}

// injectionLines reads the injection lines out of a JSON log: how many,
// and the count the last one stands for.
func injectionLines(t *testing.T, log []byte) (lines int, since uint64) {
	t.Helper()
	for l := range strings.Lines(string(log)) {
		var rec struct {
			Msg   string `json:"msg"`
			Since uint64 `json:"since_last_line"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if rec.Msg == msgInjected {
			lines, since = lines+1, rec.Since
		}
	}
	return lines, since
}

// Injections are logged one line per kind per LogEvery, and those of a
// burst's last interval are logged when it ends, with no injection after.
func TestInjectionLogFlushedAfterTheBurst(t *testing.T) {
	c := clock.NewManual(time.Unix(1000, 0))
	var log bytes.Buffer // written on this goroutine: the manual clock fires in Advance
	in := New(Options{Logger: slog.New(slog.NewJSONHandler(&log, nil)), Clock: c})
	if _, err := in.Set(mustRule(t, "redfish", "drop", `{}`)); err != nil {
		t.Fatal(err)
	}
	decisions(in, Redfish, Drop, 10)
	if n, _ := injectionLines(t, log.Bytes()); n != 1 {
		t.Fatalf("10 injections in an instant logged %d lines, want 1", n)
	}
	c.Advance(time.Second)
	if n, since := injectionLines(t, log.Bytes()); n != 2 || since != 9 {
		t.Errorf("a second after the burst: %d lines, the last for %d; want 2, for 9", n, since)
	}
}
