package conformance

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The hot-add path end to end through the binary at 1000x speed: attention,
// insert --wait following every stage, the OS view (blocks, meminfo), and
// the real ipmitool reading the SEL.
func TestHotAddThroughCtl(t *testing.T) {
	e := start(t, startOpts{args: []string{"--speed", "1000", "--fault-seed", "42"}})
	const slot = "CPU0_DIMM_A2"

	memTotal := func() uint64 {
		t.Helper()
		out, err := e.ctl("meminfo", "-o", "json")
		if err != nil {
			t.Fatalf("ctl meminfo: %v\n%s", err, out)
		}
		var m struct{ MemTotal uint64 }
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("meminfo JSON: %v\n%s", err, out)
		}
		return m.MemTotal
	}
	before := memTotal()
	if out, err := e.ctl("meminfo"); err != nil || !regexp.MustCompile(`MemTotal:\s+\d+ kB`).MatchString(out) {
		t.Fatalf("ctl meminfo: %v\n%s", err, out)
	}

	if out, err := e.ctl("attention", slot); err != nil || !strings.Contains(out, "attention pressed") {
		t.Fatalf("ctl attention: %v\n%s", err, out)
	}
	e.waitSlot(slot, "Isolated")
	out, err := e.ctl("insert", slot, "--capacity-gib", "64", "--wait")
	if err != nil {
		t.Fatalf("ctl insert --wait: %v\n%s", err, out)
	}
	for _, step := range []string{"SPDAccepted", "slot power Nominal", "SCIRaised", "MemoryTrained", "AddressMapUpdated",
		"ACPINotify", "KernelMemoryAdded", "_OST(0x200, 0x0) success", "MemoryHotAdded", slot + ": enabled (ok)", "32/32 blocks online"} {
		if !strings.Contains(out, step) {
			t.Errorf("insert --wait output lacks %q:\n%s", step, out)
		}
	}
	if strings.Contains(out, "NOT isolated") {
		t.Errorf("insert after attention made bus noise:\n%s", out)
	}
	m := regexp.MustCompile(`\[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\]`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no range in the summary:\n%s", out)
	}
	base, _ := strconv.ParseUint(m[1], 16, 64)

	out, err = e.ctl("blocks")
	if err != nil {
		t.Fatalf("ctl blocks: %v\n%s", err, out)
	}
	first := regexp.MustCompile(`(?m)^memory(\d+)\s+0x0*` + strconv.FormatUint(base, 16) + `-\S+\s+2048M\s+online\s+online_kernel\s+Normal\s+0\s`)
	if !first.MatchString(out) {
		t.Errorf("ctl blocks lacks the first new block at %#x online on node 0:\n%s", base, out)
	}
	var blocks struct {
		Blocks []struct {
			Start uint64
			State string
			Boot  bool
		}
	}
	out, err = e.ctl("blocks", "-o", "json")
	if err != nil || json.Unmarshal([]byte(out), &blocks) != nil {
		t.Fatalf("ctl blocks -o json: %v\n%.400s", err, out)
	}
	n := 0
	for _, b := range blocks.Blocks {
		if b.Start >= base && b.Start < base+64<<30 && b.State == "online" && !b.Boot {
			n++
		}
	}
	if n != 32 {
		t.Errorf("%d hot-added blocks online, want 32", n)
	}
	if after := memTotal(); after-before != 64<<20 {
		t.Errorf("MemTotal grew by %d kB, want %d", after-before, 64<<20)
	}
	if out, err := e.ctl("dmesg"); err != nil || !strings.Contains(out, "memory_hotplug: added [mem 0x") {
		t.Errorf("ctl dmesg: %v\n%s", err, out)
	}
	if out, err := e.ctl("acpi", "srat"); err != nil || !strings.Contains(out, "Hot Pluggable") {
		t.Errorf("ctl acpi srat: %v\n%.300s", err, out)
	}
	if out, err := e.ctl("memmap"); err != nil || !strings.Contains(out, "memmap=") {
		t.Errorf("ctl memmap: %v\n%s", err, out)
	}

	sel := e.mustIPMI("sel", "elist")
	if !regexp.MustCompile(`(?i)` + slot + `.*Presence detected.*Asserted`).MatchString(sel) {
		t.Errorf("sel elist lacks Presence detected for %s:\n%s", slot, sel)
	}

	// A calibration fault: insert --wait fails with the firmware's reason
	// and the rest of the server keeps serving.
	const bad = "CPU1_DIMM_B2"
	if out, err := e.ctl("fault", bad, "calibration"); err != nil {
		t.Fatalf("ctl fault: %v\n%s", err, out)
	}
	if out, err := e.ctl("fault", "--list"); err != nil || !strings.Contains(out, "stuck-at") {
		t.Errorf("ctl fault --list: %v\n%s", err, out)
	}
	if _, err := e.ctl("attention", bad); err != nil {
		t.Fatal(err)
	}
	e.waitSlot(bad, "Isolated")
	out, err = e.ctl("insert", bad, "--wait")
	if err == nil || !strings.Contains(out, "FW_FAULT") || !strings.Contains(out, "TrainingFailed") {
		t.Errorf("insert with a calibration fault: err=%v\n%s", err, out)
	}
	out, _ = e.ctl("slots", bad)
	if !regexp.MustCompile(`failed\s+critical`).MatchString(out) {
		t.Errorf("ctl slots %s:\n%s", bad, out)
	}
	if out, err := e.ctl("slots", slot); err != nil || !regexp.MustCompile(`enabled\s+ok\s+Nominal`).MatchString(out) {
		t.Errorf("good module after the fault elsewhere: %v\n%s", err, out)
	}

	// Orderly removal: eject through the OS, then pull.
	out, err = e.ctl("remove", slot, "--wait")
	if err != nil || !strings.Contains(out, "KernelMemoryRemoved") || !strings.Contains(out, "ready for removal") || !strings.Contains(out, "removed "+slot) {
		t.Errorf("ctl remove --wait: %v\n%s", err, out)
	}
	if after := memTotal(); after != before {
		t.Errorf("MemTotal after removal %d, want %d", after, before)
	}
}
