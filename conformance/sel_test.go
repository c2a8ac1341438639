package conformance

import (
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
