package scenario

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/platform/netfault"
)

func TestParseErrorsNameLineAndColumn(t *testing.T) {
	for _, c := range []struct {
		name, src string
		want      string // the error's text
	}{
		{"unknown key", "name: x\nprofile: default\ntimeline:\n  - attention: CPU0_DIMM_A2\n    colour: red\n",
			"f.yaml:5:5: timeline[0].colour: field colour not found in type scenario.Step"},
		{"unknown key in a flow mapping", "name: x\nprofile: default\ntimeline:\n  - insert: {slot: CPU0_DIMM_A2, capacity: 64}\n",
			"f.yaml:4:34: timeline[0].insert.capacity: field capacity not found in type scenario.Insert"},
		{"cxl without a slot action", "name: x\nprofile: cxl\ntimeline:\n  - cxl: {capacity: 64G}\n",
			"f.yaml:4:5: timeline[0].cxl: give exactly one of insert, attention, pull and dma_access"},
		{"cxl insert without capacity", "name: x\nprofile: cxl\ntimeline:\n  - cxl: {insert: CXL1}\n",
			"f.yaml:4:5: timeline[0].cxl.capacity: is required with insert"},
		{"no action", "name: x\nprofile: default\ntimeline:\n  - at: 1s\n",
			"f.yaml:4:5: timeline[0]: a step needs one action"},
		{"two actions", "name: x\nprofile: default\ntimeline:\n  - attention: CPU0_DIMM_A2\n    remove: CPU0_DIMM_A2\n",
			"f.yaml:4:5: timeline[0]: a step has one action; this one has attention and remove"},
		{"time out of order", "name: x\nprofile: default\ntimeline:\n  - {at: 5s, wait: 1s}\n  - {at: 2s, wait: 1s}\n",
			"f.yaml:5:6: timeline[1].at: 2s is before the previous step's 5s"},
		{"bad duration", "name: x\nprofile: default\ntimeline:\n  - {at: soon, wait: 1s}\n",
			"f.yaml:4:6: timeline[0].at: cannot unmarshal !!str `soon` into time.Duration"},
		{"unknown fault", "name: x\nprofile: default\ntimeline:\n  - fault: {slot: CPU0_DIMM_A2, kind: gremlins}\n",
			`f.yaml:4:33: timeline[0].fault.kind: "gremlins" is not a fault kind (spd-crc`},
		{"unknown profile", "name: x\nprofile: huge\ntimeline:\n  - wait: 1s\n",
			`f.yaml:2:1: profile: "huge" is not a built-in profile`},
		{"missing name", "profile: default\ntimeline:\n  - wait: 1s\n",
			"f.yaml:1:1: name: is required"},
		{"validator range", "name: x\nprofile: default\ntimeline:\n  - inject: {slot: CPU0_DIMM_A1, rank: 9, kind: ce}\n",
			"f.yaml:4:34: timeline[0].inject.rank: must be at most 7 (got 9)"},
		{"two surfaces", "name: x\nprofile: default\ntimeline:\n  - expect:\n      sel: {sensor: A, offset: 1}\n      event: {message_id: X.Y}\n",
			"f.yaml:4:5: timeline[0].expect: names one surface; this one names sel and event"},
		{"no comparison", "name: x\nprofile: default\ntimeline:\n  - expect:\n      redfish: {path: /redfish/v1}\n",
			"f.yaml:5:7: timeline[0].expect.redfish: give one comparison"},
		{"bad power", "name: x\nprofile: default\ntimeline:\n  - power: Off\n",
			"f.yaml:4:5: timeline[0].power: must be one of"},
		{"unknown protocol fault", "name: x\nprofile: default\ntimeline:\n  - protocol_fault: {surface: redfish, kind: gremlins}\n",
			"f.yaml:4:40: timeline[0].protocol_fault.kind: unknown protocol fault redfish/gremlins"},
		{"protocol fault property", "name: x\nprofile: default\ntimeline:\n  - protocol_fault:\n      surface: ipmi\n      kind: loss\n      probability: 1.5\n",
			"f.yaml:7:7: timeline[0].protocol_fault.probability: 1.5 is outside 0..1"},
		{"protocol fault property of another kind", "name: x\nprofile: default\ntimeline:\n  - protocol_fault: {surface: ipmi, kind: loss, status: 503}\n",
			"f.yaml:4:49: timeline[0].protocol_fault.status: does not apply to ipmi/loss"},
		{"delay required", "name: x\nprofile: default\ntimeline:\n  - protocol_fault: {surface: redfish, kind: delay}\n",
			"f.yaml:4:5: timeline[0].protocol_fault.delay: required for redfish/delay"},
		{"clear unknown", "name: x\nprofile: default\ntimeline:\n  - clear_protocol_fault: {surface: smtp}\n",
			"f.yaml:4:5: timeline[0].clear_protocol_fault: smtp/all is not a protocol fault"},
		{"status with a property", "name: x\nprofile: default\ntimeline:\n  - expect:\n      redfish: {path: /redfish/v1, status: 503, property: Id, equals: x}\n",
			"f.yaml:5:7: timeline[0].expect.redfish: status checks the answer's HTTP status alone"},
		{"status off Redfish", "name: x\nprofile: default\ntimeline:\n  - expect:\n      emulator: {path: ras, status: 503}\n",
			"f.yaml:5:29: timeline[0].expect.emulator.status: is a Redfish answer's"},
		{"counter of no kind", "name: x\nprofile: default\ntimeline:\n  - expect:\n      protocol_fault: {surface: sse, kind: loss}\n",
			"f.yaml:5:38: timeline[0].expect.protocol_fault.kind: sse/loss is not a protocol fault"},
		{"not a mapping", "- a\n", "f.yaml:1: cannot unmarshal !!seq into scenario.File"},
		{"empty", "", "f.yaml: empty scenario"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse("f.yaml", []byte(c.src))
			if err == nil {
				t.Fatalf("accepted: %+v", f)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v, want *Error", err, err)
			}
			if !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("error\n  %s\nwant it to start with\n  %s", err, c.want)
			}
		})
	}
}

func TestParseStep(t *testing.T) {
	f, err := Parse("f.yaml", []byte(`name: x
profile: mirror
timeline:
  - {at: 2s, attention: CPU0_DIMM_A2}
  - insert: {slot: CPU0_DIMM_A2, capacity_gib: 64, ranks: 2}
  - expect:
      redfish: {path: Systems/1/Memory/CPU0_DIMM_A2, property: Status.State, equals: Enabled}
      within: 30s
  - ras_mode: ""
  - verify: {intact: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	var kinds, titles []string
	for i := range f.Timeline {
		kinds = append(kinds, f.Timeline[i].Kind())
		titles = append(titles, f.Timeline[i].Title())
	}
	if want := []string{"attention", "insert", "expect", "ras_mode", "verify"}; !slices.Equal(kinds, want) {
		t.Errorf("kinds %v, want %v", kinds, want)
	}
	if got := titles[2]; got != `expect redfish /redfish/v1/Systems/1/Memory/CPU0_DIMM_A2 Status.State == "Enabled" within 30s` {
		t.Errorf("title %q", got)
	}
	if l, c := f.Timeline[1].Line(), f.Timeline[1].Col(); l != 5 || c != 5 {
		t.Errorf("step 2 at %d:%d, want 5:5", l, c)
	}
}

// Every fault kind the platform has has a library scenario, so a new kind
// cannot ship untested here.
func TestLibraryCoversEveryFaultKind(t *testing.T) {
	lib, err := Library()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range faultKinds() {
		if !slices.ContainsFunc(lib, func(b Builtin) bool { return b.Name == "fault-"+k }) {
			t.Errorf("no builtin:fault-%s", k)
		}
	}
	// ... every protocol fault surface one, named protocol-<surface>-...
	// (SSE's cut needs a stream the engine does not hold open; the
	// conformance tests cover it with a real client).
	surfaces := map[netfault.Surface]bool{}
	for _, ki := range netfault.Kinds() {
		if ki.Surface == netfault.SSE || surfaces[ki.Surface] {
			continue
		}
		surfaces[ki.Surface] = true
		if !slices.ContainsFunc(lib, func(b Builtin) bool { return strings.HasPrefix(b.Name, "protocol-"+string(ki.Surface)+"-") }) {
			t.Errorf("no builtin:protocol-%s-... scenario", ki.Surface)
		}
	}
	// ... and every RAS mode one.
	profiles := map[string]bool{}
	for _, b := range lib {
		profiles[b.Profile] = true
	}
	for _, p := range []string{"default", "mirror", "sparing", "raid5", "rangemirror"} {
		if !profiles[p] {
			t.Errorf("no library scenario on profile %s", p)
		}
	}
}

func TestLookup(t *testing.T) {
	doc := map[string]any{
		"Status":    map[string]any{"State": "Enabled"},
		"@odata.id": "/redfish/v1/x",
		"Members":   []any{map[string]any{"@odata.id": "/a"}, map[string]any{"@odata.id": "/b"}},
		"Oem":       map[string]any{"Bmcemu": map[string]any{"A.B": 1.0}},
	}
	for path, want := range map[string]any{
		"Status.State":         "Enabled",
		"@odata.id":            "/redfish/v1/x",
		"Members[1].@odata.id": "/b",
		"Oem.Bmcemu.A.B":       1.0,
	} {
		got, ok := lookup(doc, path)
		if !ok || got != want {
			t.Errorf("lookup %q = %v, %v; want %v", path, got, ok, want)
		}
	}
	if got, ok := lookup([]any{map[string]any{"name": "A1"}, map[string]any{"name": "A2"}}, "[1].name"); !ok || got != "A2" {
		t.Errorf("lookup [1].name in an array = %v, %v", got, ok)
	}
	for _, path := range []string{"Status.Health", "Members[2].@odata.id", "Members.x", "Status.State.Deeper", "[0]", "Members[x]"} {
		if v, ok := lookup(doc, path); ok {
			t.Errorf("lookup %q = %v, want absent", path, v)
		}
	}
}

func TestCompareDiff(t *testing.T) {
	c := &PropertyCheck{Path: "/x", Property: "Status", Equals: map[string]any{"State": "Enabled", "Health": "OK"}}
	err := c.compare(map[string]any{"Status": map[string]any{"State": "Enabled", "Health": "Critical"}})
	var mm *Mismatch
	if !errors.As(err, &mm) {
		t.Fatalf("got %v, want a mismatch", err)
	}
	if !strings.Contains(mm.Diff, `-   "Health": "OK"`) || !strings.Contains(mm.Diff, `+   "Health": "Critical"`) || !strings.Contains(mm.Diff, `"State": "Enabled"`) {
		t.Errorf("diff:\n%s", mm.Diff)
	}
	five := 5.0
	if err := (&PropertyCheck{Property: "n", AtLeast: &five}).compare(map[string]any{"n": 5.0}); err != nil {
		t.Errorf("5 >= 5: %v", err)
	}
	if err := (&PropertyCheck{Property: "n", AtMost: &five}).compare(map[string]any{"n": 6.0}); err == nil {
		t.Error("6 <= 5 held")
	}
	if err := (&PropertyCheck{Property: "l", Contains: "b"}).compare(map[string]any{"l": []any{"a", "b"}}); err != nil {
		t.Errorf("contains: %v", err)
	}
	if err := (&PropertyCheck{Property: "n", Equals: 3}).compare(map[string]any{"n": 3.0}); err != nil {
		t.Errorf("YAML 3 == JSON 3: %v", err)
	}
}

func TestMessageIDMatches(t *testing.T) {
	for _, c := range []struct {
		want, got string
		ok        bool
	}{
		{"ResourceEvent.ResourceErrorsCorrected", "ResourceEvent.1.4.3.ResourceErrorsCorrected", true},
		{"ResourceEvent.1.4.3.ResourceErrorsCorrected", "ResourceEvent.1.4.3.ResourceErrorsCorrected", true},
		{"ResourceEvent.ResourceErrorsCorrected", "ResourceEvent.1.4.3.ResourceErrorsDetected", false},
		{"Platform.ResourceErrorsCorrected", "ResourceEvent.1.4.3.ResourceErrorsCorrected", false},
		{"ResourceEvent.1.0.0.ResourceErrorsCorrected", "ResourceEvent.1.4.3.ResourceErrorsCorrected", false},
	} {
		if got := messageIDMatches(c.want, c.got); got != c.ok {
			t.Errorf("messageIDMatches(%q, %q) = %v", c.want, c.got, got)
		}
	}
}
