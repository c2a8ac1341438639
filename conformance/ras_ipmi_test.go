package conformance

import (
	"strings"
	"testing"
	"time"
)

// selRows returns `ipmitool sel elist` rows as "sensor | event | direction".
func selRows(out string) []string {
	var rows []string
	for _, line := range strings.Split(out, "\n") {
		cols := strings.Split(line, "|")
		if len(cols) < 6 {
			continue
		}
		for i := range cols {
			cols[i] = strings.TrimSpace(cols[i])
		}
		rows = append(rows, strings.Join(cols[3:], " | "))
	}
	return rows
}

// selUntil reads `sel elist` until it holds want: the BMC logs platform
// events asynchronously, so a record may trail the ctl command by a moment.
func (e *Emulator) selUntil(t *testing.T, want string) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rows := selRows(e.mustIPMI("sel", "elist"))
		if hasRow(rows, want) || time.Now().After(deadline) {
			return rows
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func hasRow(rows []string, want string) bool {
	for _, r := range rows {
		if r == want {
			return true
		}
	}
	return false
}

// The memory RAS state through the binary and the real ipmitool: the
// redundancy sensor exists in a redundant mode, a failover and the
// replacement read as ipmitool's own redundancy texts, and a RAS mode the
// population cannot take shows as a configuration error after the boot
// that fell back.
func TestRASWithIpmitool(t *testing.T) {
	e := start(t, startOpts{args: []string{"--profile", "mirror", "--speed", "50"}})
	if row := sdrRows(e.mustIPMI("sdr", "elist"))["MEM_REDUNDANCY"]; len(row) != 4 || row[0] != "BFh" || row[3] != "Fully Redundant" {
		t.Fatalf("sdr elist MEM_REDUNDANCY = %q", row)
	}
	e.mustCtl(t, "ras", "workload", "--pages", "4096")
	const slot = "CPU0_DIMM_C1"
	e.mustCtl(t, "ras", "inject", slot, "--ue")
	rows := e.selUntil(t, "Memory MEM_REDUNDANCY | Redundancy Lost | Asserted")
	for _, want := range []string{
		"Memory CPU0_DIMM_C1 | Uncorrectable ECC | Asserted",
		"Memory CPU0_DIMM_C1 | Memory Device Disabled | Asserted",
		"Memory MEM_REDUNDANCY | Redundancy Lost | Asserted",
	} {
		if !hasRow(rows, want) {
			t.Errorf("sel elist lacks %q:\n%s", want, strings.Join(rows, "\n"))
		}
	}
	if row := sdrRows(e.mustIPMI("sdr", "elist"))[slot]; len(row) != 4 || !strings.Contains(row[3], "Memory Device Disabled") {
		t.Errorf("sdr elist %s = %q", slot, row)
	}
	e.mustCtl(t, "attention", slot)
	e.waitSlot(slot, "Isolated")
	e.mustCtl(t, "remove", slot)
	e.mustCtl(t, "insert", slot, "--capacity-gib", "32", "--ranks", "2", "--wait")
	rows = e.selUntil(t, "Memory MEM_REDUNDANCY | Fully Redundant | Asserted")
	if rows[len(rows)-1] != "Memory MEM_REDUNDANCY | Fully Redundant | Asserted" {
		t.Errorf("sel elist after re-silver ends with %q:\n%s", rows[len(rows)-1], strings.Join(rows, "\n"))
	}

	// Plain ECC: no redundancy sensor. RAID5 on a board without memory
	// cartridges falls back, and the next boot says so.
	dir := t.TempDir()
	e = start(t, startOpts{stateDir: dir})
	if _, ok := sdrRows(e.mustIPMI("sdr", "elist"))["MEM_REDUNDANCY"]; ok {
		t.Error("AdvancedECC has a redundancy sensor")
	}
	e.mustCtl(t, "ras", "mode", "RAID5")
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	e = start(t, startOpts{stateDir: dir})
	if rows := e.selUntil(t, "Memory MEM_RAS_CONFIG | Configuration Error | Asserted"); !hasRow(rows, "Memory MEM_RAS_CONFIG | Configuration Error | Asserted") {
		t.Errorf("sel elist after the fallback boot:\n%s", strings.Join(rows, "\n"))
	}
	if row := sdrRows(e.mustIPMI("sdr", "elist"))["MEM_RAS_CONFIG"]; len(row) != 4 || row[3] != "Configuration Error" {
		t.Errorf("sdr elist MEM_RAS_CONFIG = %q", row)
	}
}
