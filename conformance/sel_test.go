package conformance

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// selLines returns `ipmitool sel elist` rows without their timestamps, which
// is what must survive a restart unchanged.
func selLines(t *testing.T, e *Emulator) []string {
	t.Helper()
	out := e.mustIPMI("sel", "elist")
	var rows []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		cols := strings.Split(line, "|")
		if len(cols) < 6 {
			continue
		}
		rows = append(rows, strings.TrimSpace(cols[0])+"|"+strings.TrimSpace(strings.Join(cols[3:], "|")))
	}
	return rows
}

// The SEL is non-volatile: entries acknowledged before a kill -9 are there
// after the restart, in order, and the log keeps growing from there.
func TestSELSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	e := start(t, startOpts{stateDir: dir})
	if out, err := e.ctl("insert", "CPU0_DIMM_C2"); err != nil {
		t.Fatalf("insert: %v\n%s", err, out)
	}
	e.mustIPMI("event", "1")
	before := selLines(t, e)
	joined := strings.Join(before, "\n")
	if !strings.Contains(joined, "CPU0_DIMM_C2") || !strings.Contains(strings.ToLower(joined), "presence detected") {
		t.Fatalf("sel elist after insert lacks the presence record:\n%s", joined)
	}
	e.Kill9()
	e = start(t, startOpts{stateDir: dir})
	after := selLines(t, e)
	if len(after) < len(before) {
		t.Fatalf("SEL lost entries across kill -9: %d before, %d after\nbefore:\n%s\nafter:\n%s", len(before), len(after), joined, strings.Join(after, "\n"))
	}
	for i := range before {
		if before[i] != after[i] {
			t.Fatalf("entry %d changed across kill -9: %q -> %q", i, before[i], after[i])
		}
	}
	info := kv(e.mustIPMI("sel", "info"))
	if info["Version"] == "" || !strings.HasPrefix(info["Version"], "1.5") {
		t.Errorf("sel info Version = %q, want 1.5 (v2 compliant)", info["Version"])
	}
}

// One SEL, two views: Redfish's SEL log service lists exactly the records
// ipmitool reads, with the IPMI-derived MessageIds, and ClearLog through
// Redfish empties what IPMI sees.
func TestRedfishSELMirrorsIPMI(t *testing.T) {
	e := start(t, startOpts{args: []string{"--speed", "1000"}})
	e.mustIPMI("event", "1")
	if out, err := e.ctl("attention", "CPU1_DIMM_E2"); err != nil {
		t.Fatalf("attention: %v\n%s", err, out)
	}
	e.waitSlot("CPU1_DIMM_E2", "Isolated")
	if out, err := e.ctl("insert", "CPU1_DIMM_E2", "--wait"); err != nil {
		t.Fatalf("insert: %v\n%s", err, out)
	}
	ipmiRows := selLines(t, e)
	out, err := e.redfishtool("raw", "GET", "/redfish/v1/Systems/1/LogServices/SEL/Entries")
	if err != nil {
		t.Fatalf("redfishtool SEL entries: %v\n%s", err, out)
	}
	var entries struct {
		Count   int `json:"Members@odata.count"`
		Members []struct {
			EntryType, MessageId, SensorType string
		}
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("SEL entries JSON: %v\n%s", err, out)
	}
	if entries.Count != len(ipmiRows) || len(entries.Members) != len(ipmiRows) {
		t.Fatalf("Redfish lists %d SEL entries, ipmitool %d:\n%s\n%s", entries.Count, len(ipmiRows), out, strings.Join(ipmiRows, "\n"))
	}
	for _, m := range entries.Members {
		if m.EntryType != "SEL" || !regexp.MustCompile(`^0x[0-9A-Fa-f]{8}$`).MatchString(m.MessageId) {
			t.Errorf("SEL entry %+v", m)
		}
	}
	if code := e.send(http.MethodPost, "/redfish/v1/Systems/1/LogServices/SEL/Actions/LogService.ClearLog", "{}"); code/100 != 2 {
		t.Fatalf("ClearLog: %d", code)
	}
	// Clearing logs one "Log area reset/cleared" record on real BMCs; what
	// matters is that the old records are gone for IPMI too.
	if after := selLines(t, e); len(after) > 1 {
		t.Fatalf("ipmitool still sees %d records after Redfish ClearLog:\n%s", len(after), strings.Join(after, "\n"))
	}
}
