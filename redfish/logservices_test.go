package redfish

import (
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/sel"
)

var selEpoch = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// newSEL is an in-memory SEL with records as the IPMI event pump writes
// them (ipmi/events.go selEvent): Memory presence on CPU0_DIMM_A2
// (ordinal 1, sensor 02h), its Slot/Connector Device Installed (61h), a
// correctable ECC deassert on CPU0_DIMM_A1, and a threshold event.
func newSEL(t testing.TB) *sel.SEL {
	t.Helper()
	now := selEpoch
	l, err := sel.Open(sel.Options{Capacity: 64, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []sel.Event{
		{GeneratorID: sel.GeneratorBMC, EvMRev: sel.EvMRev, SensorType: 0x0C, SensorNumber: 0x02, EventType: 0x6F, Data: [3]byte{0x36, 0xFF, 0x01}},
		{GeneratorID: sel.GeneratorBMC, EvMRev: sel.EvMRev, SensorType: 0x21, SensorNumber: 0x61, EventType: 0x6F, Data: [3]byte{0xF2, 0x07, 0x01}},
		{GeneratorID: sel.GeneratorBMC, EvMRev: sel.EvMRev, SensorType: 0x0C, SensorNumber: 0x01, EventType: 0x6F, Deassertion: true, Data: [3]byte{0x30, 0xFF, 0x00}},
		{GeneratorID: 0x0041, EvMRev: sel.EvMRev, SensorType: 0x01, SensorNumber: 0x30, EventType: 0x01, Data: [3]byte{0x57, 0x50, 0x48}},
		{GeneratorID: 0x0020, EvMRev: sel.EvMRev, SensorType: 0x99, SensorNumber: 0x05, EventType: 0x08, Data: [3]byte{0x01, 0xFF, 0xFF}},
	} {
		if _, err := l.Add(e.Record()); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
	}
	var oem sel.Record
	oem[2] = 0xC1
	copy(oem[7:], "bmcemu-oem")
	if _, err := l.Add(oem); err != nil {
		t.Fatal(err)
	}
	return l
}

func newHandlerCfg(t testing.TB, p Platform, cfg Config) http.Handler {
	t.Helper()
	if cfg.Accounts == nil && cfg.AccountStore == nil {
		cfg.Accounts = testAccounts
	}
	h, err := New(cfg, p)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { h.(interface{ Close() error }).Close() })
	return h
}

var selMessageIDPattern = regexp.MustCompile(`^0x[0-9a-fA-F]{8}$`)

func TestSELLogService(t *testing.T) {
	p := newPlatform(t)
	l := newSEL(t)
	h := newHandlerCfg(t, p, Config{SEL: l})

	coll := getJSON(t, h, "/redfish/v1/Systems/1/LogServices")
	if coll["Members@odata.count"] != 2.0 || path(t, coll, "Members", 0, "@odata.id") != "/redfish/v1/Systems/1/LogServices/SEL" {
		t.Errorf("LogServices = %v", coll)
	}
	svc := getJSON(t, h, "/redfish/v1/Systems/1/LogServices/SEL")
	for k, want := range map[string]any{"LogEntryType": "SEL", "OverWritePolicy": "WrapsWhenFull", "MaxNumberOfRecords": 64.0, "Overflow": false} {
		if svc[k] != want {
			t.Errorf("SEL %s = %v, want %v", k, svc[k], want)
		}
	}
	if path(t, svc, "Actions", "#LogService.ClearLog", "target") != "/redfish/v1/Systems/1/LogServices/SEL/Actions/LogService.ClearLog" {
		t.Errorf("ClearLog target: %v", svc["Actions"])
	}

	entries := getJSON(t, h, "/redfish/v1/Systems/1/LogServices/SEL/Entries")
	if entries["Members@odata.count"] != 6.0 {
		t.Fatalf("entries = %v", entries)
	}
	first := path(t, entries, "Members", 0).(map[string]any)
	want := map[string]any{
		"@odata.id": "/redfish/v1/Systems/1/LogServices/SEL/Entries/1", "Id": "1", "EntryType": "SEL",
		"SensorType": "Memory", "SensorNumber": 2.0, "EntryCode": "Assert", "MessageId": "0x6F36FF01",
		"Message": "Memory CPU0_DIMM_A2: Presence detected asserted", "Created": "2025-03-04T05:06:07Z",
		"GeneratorId": "0x0020",
	}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("entry 1 %s = %v, want %v", k, first[k], v)
		}
	}
	if path(t, first, "Links", "OriginOfCondition", "@odata.id") != "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2" {
		t.Errorf("entry 1 origin = %v", first["Links"])
	}
	second := getJSON(t, h, "/redfish/v1/Systems/1/LogServices/SEL/Entries/2")
	if second["SensorType"] != "Slot/Connector" || second["Message"] != "Slot/Connector CPU0_DIMM_A2: Device Installed asserted" ||
		path(t, second, "Links", "OriginOfCondition", "@odata.id") != "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2" {
		t.Errorf("entry 2 = %v", second)
	}
	third := getJSON(t, h, "/redfish/v1/Systems/1/LogServices/SEL/Entries/3")
	if third["EntryCode"] != "Deassert" || third["MessageId"] != "0xEF30FF00" ||
		path(t, third, "Links", "OriginOfCondition", "@odata.id") != "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1" {
		t.Errorf("entry 3 = %v", third)
	}
	fourth := getJSON(t, h, "/redfish/v1/Systems/1/LogServices/SEL/Entries/4")
	if fourth["SensorType"] != "Temperature" || fourth["EntryCode"] != "Upper Non-critical - going high" || fourth["GeneratorId"] != "0x0041" {
		t.Errorf("entry 4 = %v", fourth)
	}
	if _, ok := fourth["Links"]; ok {
		t.Errorf("entry 4 has no slot, got Links %v", fourth["Links"])
	}
	fifth := getJSON(t, h, "/redfish/v1/Systems/1/LogServices/SEL/Entries/5")
	if _, ok := fifth["SensorType"]; ok || fifth["OemSensorType"] != "0x99" || fifth["EntryCode"] != "Device Inserted / Device Present" {
		t.Errorf("entry 5 = %v", fifth)
	}
	for i, m := range path(t, entries, "Members").([]any) {
		if i == 5 {
			break // the OEM record
		}
		if id, _ := m.(map[string]any)["MessageId"].(string); !selMessageIDPattern.MatchString(id) {
			t.Errorf("entry %d MessageId %q", i+1, id)
		}
	}
	checkError(t, do(t, h, http.MethodGet, "/redfish/v1/Systems/1/LogServices/SEL/Entries/99"), http.StatusNotFound, "ResourceNotFound", "LogEntry", "99")
	checkError(t, do(t, h, http.MethodGet, "/redfish/v1/Systems/1/LogServices/Audit"), http.StatusNotFound, "ResourceNotFound", "LogService", "Audit")

	// Paging.
	page := getJSON(t, h, "/redfish/v1/Systems/1/LogServices/SEL/Entries?$top=2&$skip=1")
	if len(members(t, page)) != 2 || path(t, page, "Members", 0, "Id") != "2" || page["Members@odata.count"] != 6.0 ||
		page["Members@odata.nextLink"] != "/redfish/v1/Systems/1/LogServices/SEL/Entries?$top=2&$skip=3" {
		t.Errorf("page = %v", page)
	}

	// ClearLog: ReadOnly may not; the administrator may, and IPMI sees it.
	const clear = "/redfish/v1/Systems/1/LogServices/SEL/Actions/LogService.ClearLog"
	checkError(t, do(t, h, http.MethodPost, clear, basic("reader", "reader-pw"), withBody(`{}`)), http.StatusForbidden, "InsufficientPrivilege")
	if w := do(t, h, http.MethodPost, clear, withBody(`{}`)); w.Code != http.StatusNoContent {
		t.Fatalf("ClearLog: %d %s", w.Code, w.Body)
	}
	if n := l.Info().Entries; n != 0 {
		t.Errorf("SEL holds %d entries after ClearLog", n)
	}
	if w := do(t, h, http.MethodPost, clear, withBody(`{"Bogus":1}`)); w.Code != http.StatusBadRequest {
		t.Errorf("ClearLog with unknown parameter: %d", w.Code)
	}
	if got := getJSON(t, h, "/redfish/v1/Systems/1/LogServices/SEL/Entries"); got["Members@odata.count"] != 0.0 {
		t.Errorf("after clear: %v", got)
	}
}

func TestSELPolicyAndPaging(t *testing.T) {
	l, err := sel.Open(sel.Options{Capacity: 1200, Policy: sel.Stop})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1100 {
		e := sel.Event{GeneratorID: sel.GeneratorBMC, EvMRev: sel.EvMRev, SensorType: 0x0C, SensorNumber: 1, EventType: 0x6F, Data: [3]byte{0x30, 0xFF, byte(i)}}
		if _, err := l.Add(e.Record()); err != nil {
			t.Fatal(err)
		}
	}
	h := newHandlerCfg(t, newPlatform(t), Config{SEL: l})
	if svc := getJSON(t, h, "/redfish/v1/Systems/1/LogServices/SEL"); svc["OverWritePolicy"] != "NeverOverWrites" {
		t.Errorf("policy = %v", svc["OverWritePolicy"])
	}
	page := getJSON(t, h, "/redfish/v1/Systems/1/LogServices/SEL/Entries")
	next, _ := page["Members@odata.nextLink"].(string)
	if len(members(t, page)) != logPageSize || page["Members@odata.count"] != 1100.0 || next == "" {
		t.Fatalf("first page: %d members, count %v, next %q", len(members(t, page)), page["Members@odata.count"], next)
	}
	rest := getJSON(t, h, next)
	if len(members(t, rest)) != 100 || rest["Members@odata.nextLink"] != nil || path(t, rest, "Members", 0, "Id") != fmt.Sprint(logPageSize+1) {
		t.Errorf("second page: %d members, next %v", len(members(t, rest)), rest["Members@odata.nextLink"])
	}
}

// waitFor polls cond; the deadline only bounds a hang, it is no assertion
// about speed.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEventLogFromPlatform(t *testing.T) {
	p := newPlatform(t)
	h := newHandlerCfg(t, p, Config{})
	insert(t, p, "CPU0_DIMM_A2", 64)
	if err := p.SetLocationIndicator("CPU0_DIMM_A2", true); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Remove("CPU0_DIMM_A2"); err != nil {
		t.Fatal(err)
	}
	const entries = "/redfish/v1/Systems/1/LogServices/EventLog/Entries"
	var got []any
	waitFor(t, "the removal in the event log", func() bool {
		got = members(t, getJSON(t, h, entries))
		return hasMessage(got, wantRemoved)
	})
	// The hot-plug steps between them are the platform's business; these
	// must appear in this order.
	want := [][2]string{
		{"ResourceEvent.1.4.3.ResourceStateChanged", "The state of resource '/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2' has changed to Enabled."},
		{"BmcemuMemory.1.1.0.LocationIndicatorChanged", "The location indicator of memory slot CPU0_DIMM_A2 is now On."},
		{"ResourceEvent.1.4.3.ResourceStateChanged", wantRemoved},
	}
	locIdx := ""
	for _, m := range got {
		e := m.(map[string]any)
		if e["EntryType"] != "Event" || e["Created"] == "" {
			t.Errorf("entry %v", e)
		}
		if len(want) > 0 && e["MessageId"] == want[0][0] && e["Message"] == want[0][1] {
			if path(t, e, "Links", "OriginOfCondition", "@odata.id") != "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2" {
				t.Errorf("entry %v: origin", e)
			}
			if want[0][0] == "BmcemuMemory.1.1.0.LocationIndicatorChanged" {
				locIdx = e["Id"].(string)
			}
			want = want[1:]
		}
	}
	if len(want) > 0 {
		t.Fatalf("missing in order: %v; log %v", want, got)
	}
	one := getJSON(t, h, entries+"/"+locIdx)
	if one["MessageId"] != "BmcemuMemory.1.1.0.LocationIndicatorChanged" || one["Severity"] != "OK" {
		t.Errorf("entry 2 = %v", one)
	}
	if w := do(t, h, http.MethodPost, "/redfish/v1/Systems/1/LogServices/EventLog/Actions/LogService.ClearLog"); w.Code != http.StatusNoContent {
		t.Fatalf("ClearLog: %d %s", w.Code, w.Body)
	}
	if n := len(members(t, getJSON(t, h, entries))); n != 0 {
		t.Errorf("%d entries after ClearLog", n)
	}
}

const wantRemoved = "The state of resource '/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2' has changed to Absent."

func hasMessage(entries []any, msg string) bool {
	for _, m := range entries {
		if m.(map[string]any)["Message"] == msg {
			return true
		}
	}
	return false
}

// loggedAbout reports whether the Event log holds a MessageId about origin
// (its Links.OriginOfCondition).
func loggedAbout(t *testing.T, h http.Handler, messageID, origin string) bool {
	t.Helper()
	for _, m := range members(t, getJSON(t, h, "/redfish/v1/Systems/1/LogServices/EventLog/Entries")) {
		if e, _ := m.(map[string]any); e["MessageId"] == messageID && path(t, e, "Links", "OriginOfCondition", "@odata.id") == origin {
			return true
		}
	}
	return false
}

func TestEventHubRing(t *testing.T) {
	h := newEventHub(3, nil)
	for i := range 5 {
		h.publish(time.Unix(int64(i), 0), eventSpec{id: resourceEventRegistry + ".ResourceStateChanged", args: []string{"x", fmt.Sprint(i)}})
	}
	evs := h.logEvents()
	if len(evs) != 3 || evs[0].ID != 3 || evs[2].Message != "The state of resource 'x' has changed to 4." || !h.logOverflow() {
		t.Errorf("ring = %+v overflow %v", evs, h.logOverflow())
	}
	if _, ok := h.logEvent(2); ok {
		t.Error("event 2 should have wrapped away")
	}
	if ev, ok := h.logEvent(4); !ok || ev.ID != 4 {
		t.Errorf("logEvent(4) = %+v %v", ev, ok)
	}
	h.clearLog()
	if len(h.logEvents()) != 0 || h.logOverflow() {
		t.Error("clearLog")
	}
	_, replay := h.listen("t", 1, 3)
	if len(replay) != 2 || replay[0].ID != 4 {
		t.Errorf("replay after 3 = %+v", replay)
	}
}

func TestSensorResolverOverride(t *testing.T) {
	l := newSEL(t)
	h := newHandlerCfg(t, newPlatform(t), Config{SEL: l, SensorResolver: func(typ, num uint8) (string, bool) {
		return "CPU1_DIMM_H2", typ == 0x0C
	}})
	e := getJSON(t, h, "/redfish/v1/Systems/1/LogServices/SEL/Entries/1")
	if path(t, e, "Links", "OriginOfCondition", "@odata.id") != "/redfish/v1/Systems/1/Memory/CPU1_DIMM_H2" {
		t.Errorf("entry 1 = %v", e)
	}
	if _, ok := getJSON(t, h, "/redfish/v1/Systems/1/LogServices/SEL/Entries/2")["Links"]; ok {
		t.Error("resolver said no for Slot/Connector")
	}
}

// The mapping mirrors ipmi/sdr.go for every ordinal it numbers.
func TestDefaultSensorSlot(t *testing.T) {
	for ord := range ipmiMaxSlots {
		if got, ok := defaultSensorSlot(ipmiSensorMemory, uint8(ord+1)); !ok || got != ord {
			t.Errorf("memory sensor %d -> %d %v", ord+1, got, ok)
		}
		if got, ok := defaultSensorSlot(ipmiSensorSlotConnector, uint8(0x60+ord)); !ok || got != ord {
			t.Errorf("slot sensor %#x -> %d %v", 0x60+ord, got, ok)
		}
	}
	for _, c := range [][2]uint8{{0x0C, 0}, {0x0C, 0x60}, {0x21, 0x5F}, {0x01, 1}} {
		if _, ok := defaultSensorSlot(c[0], c[1]); ok {
			t.Errorf("%v resolved", c)
		}
	}
}
