package scenario_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/cmd/internal/scenario"
	"github.com/bmcemu/bmcemu/cmd/internal/scenario/inprocess"
)

func runSource(t *testing.T, src string) *scenario.Result {
	t.Helper()
	f, err := scenario.Parse("wrong.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tg, err := inprocess.New(ctx, inprocess.Config{Profile: f.Profile})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	// A short settle: these expectations are meant to fail.
	return scenario.Run(ctx, f, "wrong.yaml", tg, scenario.Options{Settle: 100 * time.Millisecond})
}

// A wrong expectation fails with what was expected and what was seen, the
// timeline goes on, and the report says where in the file it was.
func TestWrongExpectationFailsWithDiff(t *testing.T) {
	res := runSource(t, `name: wrong
profile: default
timeline:
  - attention: CPU0_DIMM_A2
  - insert: {slot: CPU0_DIMM_A2, capacity_gib: 64}
  - expect:
      redfish: {path: /redfish/v1/Systems/1/Memory/CPU0_DIMM_A2, property: CapacityMiB, equals: 32768}
      within: 60s
  - expect:
      redfish: {path: /redfish/v1/Systems/1/Memory/CPU0_DIMM_A2, property: Status, equals: {State: Enabled, Health: Critical}}
  - expect:
      sel: {sensor: CPU0_DIMM_A2, offset: 0x01}
  - expect:
      event: {message_id: Platform.MemoryUncorrectableError}
  - expect:
      redfish: {path: /redfish/v1/Systems/1/Memory/CPU0_DIMM_A2, property: CapacityMiB, equals: 65536}
`)
	if res.Setup != nil {
		t.Fatal(res.Setup)
	}
	want := []scenario.Status{scenario.Passed, scenario.Passed, scenario.Failed, scenario.Failed, scenario.Failed, scenario.Failed, scenario.Passed}
	for i, s := range res.Steps {
		if s.Status != want[i] {
			t.Errorf("step %d %s: %s (%v), want %s", s.Index, s.Title, s.Status, s.Err, want[i])
		}
	}
	var mm *scenario.Mismatch
	if !errors.As(res.Steps[2].Err, &mm) || mm.Seen != "65536" || !strings.Contains(mm.Expected, "CapacityMiB == 32768") {
		t.Errorf("capacity mismatch: %#v", res.Steps[2].Err)
	}
	if !errors.As(res.Steps[3].Err, &mm) || !strings.Contains(mm.Diff, `-   "Health": "Critical"`) || !strings.Contains(mm.Diff, `+   "Health": "OK"`) {
		t.Errorf("status diff: %v", res.Steps[3].Err)
	}
	if !errors.As(res.Steps[4].Err, &mm) || !strings.Contains(mm.Seen, "offset 06h assert") {
		t.Errorf("SEL mismatch should list the sensor's other records: %v", res.Steps[4].Err)
	}
	if !errors.As(res.Steps[5].Err, &mm) || !strings.Contains(mm.Seen, "ResourceEvent.1.4.3.ResourceStateChanged") {
		t.Errorf("event mismatch should list what arrived: %v", res.Steps[5].Err)
	}
	if res.Steps[2].Line != 6 {
		t.Errorf("step 3 on line %d, want 6", res.Steps[2].Line)
	}
	c := res.CaseOf(res.Steps[2])
	if !strings.Contains(c.Detail, "expected: CapacityMiB == 32768\n    seen: 65536") {
		t.Errorf("report detail:\n%s", c.Detail)
	}
	if res.OK() {
		t.Error("a failed run reports OK")
	}
}

// A step that cannot run is an error and the steps after it are skipped.
func TestStepErrorSkipsTheRest(t *testing.T) {
	res := runSource(t, `name: broken
profile: default
timeline:
  - remove: CPU0_DIMM_A2
  - wait: 1s
`)
	if len(res.Steps) != 2 || res.Steps[0].Status != scenario.Errored || res.Steps[1].Status != scenario.Skipped {
		t.Fatalf("steps %+v", res.Steps)
	}
	if !strings.Contains(res.Steps[0].Err.Error(), "empty") {
		t.Errorf("error %v should say the slot is empty", res.Steps[0].Err)
	}
}

// A target running another profile is refused before any step runs.
func TestProfileMismatch(t *testing.T) {
	f, _, err := scenario.Load(scenario.BuiltinPrefix + "mirror-failover")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tg, err := inprocess.New(ctx, inprocess.Config{Profile: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	res := scenario.Run(ctx, f, "builtin:mirror-failover", tg, scenario.Options{})
	if res.Setup == nil || !strings.Contains(res.Setup.Error(), `needs profile "mirror"`) {
		t.Fatalf("setup %v", res.Setup)
	}
	if _, _, _, s := res.Counts(); s != len(f.Timeline) {
		t.Errorf("%d skipped, want every step", s)
	}
}

// Protocol fault expectations fail when the fault is not what they say:
// a 503 that is not there, a count off by one, a duplicate not counted,
// and an IPMI read during a cold reset. (Two events with no duplicate
// among them cannot be: the one event arrives twice.)
func TestProtocolFaultExpectationsFail(t *testing.T) {
	res := runSource(t, `name: wrong-protocol
profile: default
timeline:
  - expect:
      redfish: {path: /redfish/v1/Systems/1, status: 503}
  - protocol_fault: {surface: redfish, kind: error, status: 502, count: 1}
  - expect:
      redfish: {path: /redfish/v1/Systems/1, status: 503}
  - expect:
      protocol_fault: {surface: redfish, kind: error, at_least: 2}
  - protocol_fault: {surface: events, kind: duplicate, every: 1, count: 1}
  - inject: {slot: CPU0_DIMM_B1, rank: 0, kind: ce}
  - expect:
      event: {message_id: ResourceEvent.ResourceErrorsCorrected, count: 2, duplicates: 0}
  - protocol_fault: {surface: ipmi, kind: cold-reset, seconds: 5}
  - expect:
      ipmi: {answers: true}
  - clear_protocol_fault: {surface: all}
`)
	if res.Setup != nil {
		t.Fatal(res.Setup)
	}
	want := []scenario.Status{scenario.Failed, scenario.Passed, scenario.Failed, scenario.Failed, scenario.Passed, scenario.Passed, scenario.Failed, scenario.Passed, scenario.Failed, scenario.Passed}
	if len(res.Steps) != len(want) {
		t.Fatalf("%d steps, want %d", len(res.Steps), len(want))
	}
	for i, s := range res.Steps {
		if s.Status != want[i] {
			t.Errorf("step %d %s: %s (%v), want %s", s.Index, s.Title, s.Status, s.Err, want[i])
		}
	}
	for i, seen := range map[int]string{0: "HTTP 200", 2: "HTTP 502", 3: "injected 1 times", 6: "1 repeated", 8: "ipmi session"} {
		if err := res.Steps[i].Err; err == nil || !strings.Contains(err.Error(), seen) {
			t.Errorf("step %d: %v, want it to say %q", i+1, err, seen)
		}
	}
}
