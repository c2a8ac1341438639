package ipmi

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// rasBMC serves a built-in RAS profile on a manual clock, so hot-plug
// steps and copies run when the test says.
type rasBMC struct {
	*liveBMC
	clk  *clock.Manual
	seen int // SEL entries already checked
}

func newRASBMC(t *testing.T, name string, mut func(*profile.Profile)) *rasBMC {
	t.Helper()
	tool(t, "/usr/bin/ipmitool")
	prof, err := profile.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	if mut != nil {
		mut(prof)
	}
	clk := clock.NewManual(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	p, err := platform.New(prof, platform.Options{Clock: clk, FaultSeed: 7})
	if err != nil {
		t.Fatal(err)
	}
	return &rasBMC{liveBMC: startBMCOn(t, p), clk: clk}
}

func (r *rasBMC) must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// logged is one SEL record: bytes 8-16 (generator ID through event data
// 3) in hex, and its `sel elist` row without ID, date and time.
type logged struct {
	raw  string
	text string
}

func (l logged) String() string { return l.raw + " " + l.text }

// expect waits for the SEL to hold n new records and checks those that
// keep passes (all when keep is nil) against want, bytes and ipmitool
// text. A record beyond the n is caught by the count check after the
// ipmitool round trip, or by the next expect.
func (r *rasBMC) expect(t *testing.T, n int, keep func(raw []byte) bool, want ...logged) {
	t.Helper()
	r.waitSEL(t, r.seen+n)
	rows := elist(t, r.liveBMC)
	es := r.srv.SEL().Entries()
	if len(es) != r.seen+n || len(rows) != len(es) {
		t.Fatalf("SEL holds %d records (elist %d), want %d", len(es), len(rows), r.seen+n)
	}
	var got []logged
	for i := r.seen; i < len(es); i++ {
		if keep != nil && !keep(es[i][7:16]) {
			continue
		}
		got = append(got, logged{hex.EncodeToString(es[i][7:16]), strings.Join(rows[i][1:], " | ")})
	}
	r.seen = len(es)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("new SEL records:\n%s\nwant\n%s", lines(got), lines(want))
	}
}

func lines(ls []logged) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	return b.String()
}

// memoryOnly keeps the Memory-type records other than presence: the
// hot-plug steps' Slot/Connector and presence records are tested in
// sel_integration_test.go.
func memoryOnly(raw []byte) bool {
	return raw[3] == sensorTypeMemory && !(raw[5]&0x7F == readingTypeSensorSpecial && raw[6]&0x0F == memPresence)
}

// states returns the "States Asserted" of `ipmitool sensor get name`.
func (r *rasBMC) states(t *testing.T, name string) []string {
	t.Helper()
	out := r.mustIpmitool(t, "sensor", "get", name)
	var st []string
	for _, line := range strings.Split(out, "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "[") {
			st = append(st, strings.Trim(l, "[]"))
		}
	}
	return st
}

// rasSDR returns the `sdr elist` row of sensor BFh, if any.
func (r *rasBMC) rasSDR(t *testing.T) []string {
	t.Helper()
	for _, row := range table(r.mustIpmitool(t, "sdr", "elist")) {
		if len(row) == 5 && row[1] == "BFh" {
			return row
		}
	}
	return nil
}

func (r *rasBMC) image(t *testing.T, slot string, gib, ranks int) []byte {
	t.Helper()
	img, err := spd.Encode(r.p.NewModuleSpec(slot, spd.Spec{CapacityGiB: gib, Ranks: ranks, PartNumber: "REPLACE"}))
	r.must(t, err)
	return img
}

func TestRASMirrorSEL(t *testing.T) {
	r := newRASBMC(t, "mirror", nil)
	if row := r.rasSDR(t); fmt.Sprint(row) != "[MEM_REDUNDANCY BFh ok 7.1 Fully Redundant]" {
		t.Fatalf("sdr elist BFh = %q", row)
	}
	_, err := r.p.RunWorkload(42, 4096)
	r.must(t, err)

	// A UE on a mirror side: recovered from the copy (data 2 = 00h), the
	// side disabled (whole module: data 2 unspecified), redundancy lost
	// (data 2 = previous state Fully Redundant, data 3 = the pair's first
	// module, CPU0_DIMM_A1, ordinal 0).
	r.must(t, r.p.InjectMemoryError("CPU0_DIMM_A1", 0, false))
	r.expect(t, 3, nil,
		logged{"200004" + "0c016f" + "b10000", "Memory CPU0_DIMM_A1 | Uncorrectable ECC | Asserted"},
		logged{"200004" + "0c016f" + "34ff00", "Memory CPU0_DIMM_A1 | Memory Device Disabled | Asserted"},
		logged{"200004" + "0cbf0b" + "61f000", "Memory MEM_REDUNDANCY | Redundancy Lost | Asserted"})
	if st := r.states(t, "MEM_REDUNDANCY"); fmt.Sprint(st) != "[Redundancy Lost]" {
		t.Errorf("MEM_REDUNDANCY states %q", st)
	}
	// Without the SDR (sel list), ipmitool names the sensor by number.
	if out := r.mustIpmitool(t, "sel", "list"); !strings.Contains(out, "| Memory #0xbf | Redundancy Lost | Asserted") {
		t.Errorf("sel list:\n%s", out)
	}
	if st := r.states(t, "CPU0_DIMM_A1"); !slices.Contains(st, "Memory Device Disabled") {
		t.Errorf("CPU0_DIMM_A1 states %q", st)
	}
	if st := r.states(t, "CPU0_DIMM_B1"); slices.Contains(st, "Memory Device Disabled") {
		t.Errorf("the surviving side reads %q", st)
	}

	// The failed side leaves; a mismatched module is refused (a
	// configuration the mode cannot use), the identical one re-silvers.
	r.must(t, r.p.PressAttention("CPU0_DIMM_A1"))
	r.clk.RunUntilIdle(time.Minute)
	_, err = r.p.Remove("CPU0_DIMM_A1")
	r.must(t, err)
	r.expect(t, 5, memoryOnly)
	_, err = r.p.Insert("CPU0_DIMM_A1", r.image(t, "CPU0_DIMM_A1", 64, 2))
	r.must(t, err)
	r.clk.RunUntilIdle(time.Minute)
	r.expect(t, 5, memoryOnly,
		logged{"200004" + "0c016f" + "37ff00", "Memory CPU0_DIMM_A1 | Configuration Error | Asserted"})
	_, err = r.p.Remove("CPU0_DIMM_A1")
	r.must(t, err)
	_, err = r.p.Insert("CPU0_DIMM_A1", r.image(t, "CPU0_DIMM_A1", 32, 2))
	r.must(t, err)
	r.clk.RunUntilIdle(time.Minute)
	r.expect(t, 7, memoryOnly,
		logged{"200004" + "0cbf0b" + "60f100", "Memory MEM_REDUNDANCY | Fully Redundant | Asserted"})
	if st := r.states(t, "MEM_REDUNDANCY"); fmt.Sprint(st) != "[Fully Redundant]" {
		t.Errorf("MEM_REDUNDANCY states after re-silver %q", st)
	}
	if st := r.states(t, "CPU0_DIMM_A1"); fmt.Sprint(st) != "[Presence Detected]" {
		t.Errorf("replacement reads %q", st)
	}

	// Fail the partner, then the last copy: the UE is not recovered
	// (01h), the loss (no module holds it alone) is "insufficient
	// resources" with data 2 = 02h, and the NonRedundant transition the
	// platform reports after it is the same state: not logged twice.
	r.must(t, r.p.InjectMemoryError("CPU0_DIMM_B1", 1, false))
	r.expect(t, 3, nil,
		logged{"200004" + "0c036f" + "b10002", "Memory CPU0_DIMM_B1 | Uncorrectable ECC | Asserted"},
		logged{"200004" + "0c036f" + "34ff02", "Memory CPU0_DIMM_B1 | Memory Device Disabled | Asserted"},
		logged{"200004" + "0cbf0b" + "61f000", "Memory MEM_REDUNDANCY | Redundancy Lost | Asserted"})
	r.must(t, r.p.InjectMemoryError("CPU0_DIMM_A1", 0, false))
	r.expect(t, 2, nil,
		logged{"200004" + "0c016f" + "b10100", "Memory CPU0_DIMM_A1 | Uncorrectable ECC | Asserted"},
		logged{"200004" + "0cbf0b" + "8502ff", "Memory MEM_REDUNDANCY | Non-Redundant: Insufficient Resources | Asserted"})
	if st := r.states(t, "MEM_REDUNDANCY"); fmt.Sprint(st) != "[Non-Redundant: Insufficient Resources]" {
		t.Errorf("MEM_REDUNDANCY states after data loss %q", st)
	}
}

func TestRASSparingSEL(t *testing.T) {
	r := newRASBMC(t, "sparing", func(p *profile.Profile) { p.RAS.CELogLimit = 4 })
	_, err := r.p.RunWorkload(7, 4096)
	r.must(t, err)
	// Ten CEs on one rank: four logged, then the logging limit; the
	// tenth trips the threshold and the spare copy starts, taking the
	// channel's spare: degraded (data 3 = the set's first module,
	// CPU0_DIMM_C1, ordinal 4). The threshold itself has no record.
	for range 10 {
		r.must(t, r.p.InjectMemoryError("CPU0_DIMM_C1", 0, true))
	}
	ce := logged{"200004" + "0c056f" + "30ff04", "Memory CPU0_DIMM_C1 | Correctable ECC | Asserted"}
	r.expect(t, 6, nil, ce, ce, ce, ce,
		logged{"200004" + "0c056f" + "35ff04", "Memory CPU0_DIMM_C1 | Correctable ECC logging limit reached | Asserted"},
		logged{"200004" + "0cbf0b" + "62f004", "Memory MEM_REDUNDANCY | Redundancy Degraded | Asserted"})
	if row := r.rasSDR(t); fmt.Sprint(row) != "[MEM_REDUNDANCY BFh ok 7.1 Redundancy Degraded]" {
		t.Errorf("sdr elist BFh = %q", row)
	}
	// The copy completes: Spare on the module holding the spare rank
	// (here the same DIMM; data 2 = the failing module's ordinal), then
	// the failing rank mapped out (data 2 = rank 0).
	r.clk.RunUntilIdle(time.Minute)
	r.expect(t, 2, nil,
		logged{"200004" + "0c056f" + "b80404", "Memory CPU0_DIMM_C1 | Spare | Asserted"},
		logged{"200004" + "0c056f" + "b40004", "Memory CPU0_DIMM_C1 | Memory Device Disabled | Asserted"})
	if st := r.states(t, "CPU0_DIMM_C1"); fmt.Sprint(st) != "[Memory Device Disabled Correctable ECC logging limit reached Presence Detected]" {
		t.Errorf("CPU0_DIMM_C1 states %q", st)
	}
	// A new counting period lifts the logging limit.
	r.must(t, r.p.ClearMemoryErrorCounts("CPU0_DIMM_C1"))
	if st := r.states(t, "CPU0_DIMM_C1"); slices.Contains(st, "Correctable ECC logging limit reached") {
		t.Errorf("CPU0_DIMM_C1 states after clearing %q", st)
	}
}

func TestRASRaid5SEL(t *testing.T) {
	r := newRASBMC(t, "raid5", nil)
	_, err := r.p.RunWorkload(9, 8192)
	r.must(t, err)
	// Asking for a cartridge module's removal takes the cartridge out of
	// the array: degraded (data 3: the array's first module, ordinal 0).
	r.must(t, r.p.PressAttention("CPU0_DIMM_E1"))
	r.clk.RunUntilIdle(time.Minute)
	_, err = r.p.Remove("CPU0_DIMM_E1")
	r.must(t, err)
	r.clk.RunUntilIdle(time.Minute)
	r.expect(t, 6, memoryOnly,
		logged{"200004" + "0cbf0b" + "62f000", "Memory MEM_REDUNDANCY | Redundancy Degraded | Asserted"})
	if st := r.states(t, "MEM_REDUNDANCY"); fmt.Sprint(st) != "[Redundancy Degraded]" {
		t.Errorf("MEM_REDUNDANCY states %q", st)
	}
}

func TestRASAdvancedECCSEL(t *testing.T) {
	r := newRASBMC(t, "default", nil)
	if row := r.rasSDR(t); row != nil {
		t.Fatalf("AdvancedECC has a RAS sensor: %q", row)
	}
	if _, err := r.ipmitool(t, nil, "sensor", "get", "MEM_REDUNDANCY"); err == nil {
		t.Error("sensor get MEM_REDUNDANCY succeeded in AdvancedECC")
	}
	_, err := r.p.RunWorkload(1, 2048)
	r.must(t, err)
	// No redundancy: the UE is not recovered (data 2 = 01h) and the page
	// it hit is lost (data 2 = 02h), both on the module's sensor.
	r.must(t, r.p.InjectMemoryError("CPU1_DIMM_D1", 0, false))
	r.expect(t, 2, nil,
		logged{"200004" + "0c176f" + "b10116", "Memory CPU1_DIMM_D1 | Uncorrectable ECC | Asserted"},
		logged{"200004" + "0c176f" + "b10216", "Memory CPU1_DIMM_D1 | Uncorrectable ECC | Asserted"})
}

func TestRASConfigErrorSEL(t *testing.T) {
	// Mirroring with channel B empty cannot pair A with B: AdvancedECC.
	r := newRASBMC(t, "mirror", func(p *profile.Profile) {
		p.Modules[0].Slots = []string{"CPU0_DIMM_A1", "CPU0_DIMM_C1", "CPU0_DIMM_D1"}
	})
	r.expect(t, 1, nil,
		logged{"200004" + "0cbf6f" + "27ff01", "Memory MEM_RAS_CONFIG | Configuration Error | Asserted"})
	if row := r.rasSDR(t); fmt.Sprint(row) != "[MEM_RAS_CONFIG BFh ok 7.1 Configuration Error]" {
		t.Errorf("sdr elist BFh = %q", row)
	}
	if st := r.states(t, "MEM_RAS_CONFIG"); fmt.Sprint(st) != "[Configuration Error]" {
		t.Errorf("MEM_RAS_CONFIG states %q", st)
	}
}

// freeipmi reads the redundancy sensor and its records as ipmitool does.
func TestRASFreeIPMI(t *testing.T) {
	sensors, ipmisel := tool(t, "/usr/sbin/ipmi-sensors"), tool(t, "/usr/sbin/ipmi-sel")
	r := newRASBMC(t, "mirror", nil)
	common := []string{"-D", "LAN_2_0", "-h", "127.0.0.1:" + r.port, "-u", "admin", "-p", "password", "-l", "ADMIN",
		"--sdr-cache-directory=" + t.TempDir()}
	r.must(t, r.p.InjectMemoryError("CPU0_DIMM_B1", 0, false))
	r.waitSEL(t, 3)
	out, err := run(t, sensors, append(common, "--record-ids=1280")...)
	r.must(t, err)
	if rows := table(out); len(rows) != 2 || fmt.Sprint(rows[1]) != "[1280 MEM_REDUNDANCY Memory N/A N/A 'Redundancy Lost']" {
		t.Errorf("ipmi-sensors:\n%s", out)
	}
	out, err = run(t, ipmisel, common...)
	r.must(t, err)
	var got []string
	for _, row := range table(out)[1:] {
		got = append(got, strings.Join(row[3:], " | "))
	}
	// freeipmi prints the data bytes it cannot name: the OEM codes
	// (00h: recovered from the mirror; 00h: the pair's first module) and
	// the previous state (Fh severity unspecified, 0h Fully Redundant).
	want := []string{
		"CPU0_DIMM_B1 | Memory | Uncorrectable memory error ; OEM Event Data2 code = 00h ; Event Data3 = 02h",
		"CPU0_DIMM_B1 | Memory | Memory Device Disabled ; Event Data3 = 02h",
		"MEM_REDUNDANCY | Memory | Redundancy Lost ; Event Data2 = F0h ; OEM Event Data3 code = 00h",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ipmi-sel rows %q, want %q\n%s", got, want, out)
	}
}

// The pre-configured PEF filters alert on redundancy: a mirror failover
// sends a critical PET for Redundancy Lost from the system board's RAS
// sensor, beside the module's own UE (critical) and Device Disabled
// (warning).
func TestRASPET(t *testing.T) {
	tool(t, "/usr/bin/ipmitool")
	sink := listenTraps(t)
	b := startBMCWith(t, rasPlatform(t, "mirror", nil), Config{PETPort: sink.port})
	b.mustIpmitool(t, "lan", "alert", "set", "1", "1", "ipaddr", "127.0.0.1")
	if err := b.p.InjectMemoryError("CPU0_DIMM_A1", 0, false); err != nil {
		t.Fatal(err)
	}
	got := map[uint32]string{}
	for range 3 {
		p := sink.next(t)
		data, _ := p.Variables[0].Value.([]byte)
		// Severity, sensor number, entity, instance, event data 1-3.
		got[uint32(p.SpecificTrap)] = hex.EncodeToString(append([]byte{data[26]}, data[28:34]...))
	}
	want := map[uint32]string{
		0x0C6F01: "10" + "012001" + "b10000", // UE, critical
		0x0C6F04: "08" + "012001" + "34ff00", // Device Disabled, warning
		0x0C0B01: "10" + "bf0701" + "61f000", // Redundancy Lost, critical, entity 07h.1
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("PETs %x\nwant %x", got, want)
	}
	filters := table(b.mustIpmitool(t, "pef", "filter", "list"))
	if len(filters) != 16 || filters[2][2] != "Memory" || filters[2][4] != "Critical" || filters[3][4] != "Warning" {
		t.Errorf("pef filter list = %q", filters)
	}
}
