package ipmi

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitSEL waits until the event pump has logged n entries. The pump is
// asynchronous; the deadline only bounds a hang, it decides nothing.
func (b *liveBMC) waitSEL(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for b.srv.SEL().Info().Entries < n {
		if time.Now().After(deadline) {
			t.Fatalf("SEL has %d entries, want %d", b.srv.SEL().Info().Entries, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// elist returns `sel elist` rows without the date and time columns.
func elist(t *testing.T, b *liveBMC) [][]string {
	t.Helper()
	var out [][]string
	for _, r := range table(b.mustIpmitool(t, "sel", "elist")) {
		if len(r) < 6 {
			t.Fatalf("sel elist row %q", r)
		}
		out = append(out, append([]string{r[0]}, r[3:]...))
	}
	return out
}

func TestSELIpmitool(t *testing.T) {
	tool(t, "/usr/bin/ipmitool")
	state := t.TempDir()
	b := startBMCWith(t, newPlatform(t), Config{StateDir: state})

	kv := keyValues(b.mustIpmitool(t, "sel", "info"))
	if kv["Version"] != "1.5 (v1.5, v2 compliant)" || kv["Entries"] != "0" || kv["# of Alloc Units"] != "3639" ||
		kv["Supported Cmds"] != "'Delete' 'Partial Add' 'Reserve' 'Get Alloc Info'" || kv["Overflow"] != "false" {
		t.Errorf("sel info = %v", kv)
	}

	insert64(t, b.p, "CPU0_DIMM_A2")
	if _, err := b.p.Remove("CPU0_DIMM_A2"); err != nil {
		t.Fatal(err)
	}
	b.waitSEL(t, 4)
	// A hot-add without the attention step disturbs the channel: the
	// platform may log bus-noise ECC on the neighbours too. Only the
	// records of the slot itself are checked in order.
	want := [][]string{
		{"Slot / Connector CPU0_SLOT_A2", "Device Installed", "Asserted"},
		{"Memory CPU0_DIMM_A2", "Presence Detected", "Asserted"},
		{"Memory CPU0_DIMM_A2", "Presence Detected", "Deasserted"},
		{"Slot / Connector CPU0_SLOT_A2", "Device Installed", "Deasserted"},
	}
	var mine [][]string
	var ids []string
	for _, r := range elist(t, b) {
		if strings.HasSuffix(r[1], "_A2") {
			mine = append(mine, r[1:])
			ids = append(ids, r[0])
		}
	}
	if fmt.Sprint(mine) != fmt.Sprint(want) {
		t.Fatalf("sel elist (slot A2) =\n%q\nwant\n%q", mine, want)
	}
	if out := b.mustIpmitool(t, "sel", "list"); !strings.Contains(out, "| Memory #0x02 | Presence Detected | Asserted") {
		t.Errorf("sel list:\n%s", out)
	}
	kv = keyValues(b.mustIpmitool(t, "sel", "get", ids[1]))
	if kv["Generator ID"] != "0020" || kv["Sensor Number"] != "02" || kv["Event Data (RAW)"] != "36ff01" ||
		kv["Event Type"] != "Sensor-specific Discrete" || kv["Sensor ID"] != "CPU0_DIMM_A2 (0x2)" {
		t.Errorf("sel get %s = %v", ids[1], kv)
	}

	// sel add: 7-byte events from a file, logged as the given generator 0.
	file := filepath.Join(t.TempDir(), "events")
	if err := os.WriteFile(file, []byte("0x04 0x0C 0x05 0x6F 0x30 0xFF 0x04 # CE on sensor 5 (generator 0000h: no SDR match, so ipmitool names it by number)\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := b.srv.SEL().Info().Entries
	b.mustIpmitool(t, "sel", "add", file)
	// event: a Platform Event Message from the console.
	b.mustIpmitool(t, "event", "1")
	rows := elist(t, b)
	n := len(rows)
	if n != before+2 || fmt.Sprint(rows[n-2][1:]) != "[Memory #0x05 Correctable ECC Asserted]" ||
		fmt.Sprint(rows[n-1][1:]) != "[Temperature #0x30 Upper Critical going high Asserted]" {
		t.Errorf("after sel add and event: %q", rows)
	}
	if kv := keyValues(b.mustIpmitool(t, "sel", "get", rows[n-1][0])); kv["Generator ID"] != "1081" {
		t.Errorf("platform event generator = %v, want 1081 (console on LAN channel 1)", kv)
	}

	b.mustIpmitool(t, "sel", "delete", ids[2])
	if _, err := b.ipmitool(t, nil, "sel", "get", ids[2]); err == nil {
		t.Errorf("sel get %s after delete succeeded", ids[2])
	}
	if kv := keyValues(b.mustIpmitool(t, "sel", "info")); kv["Entries"] != fmt.Sprint(n-1) || kv["Last Del Time"] == "Not Available" {
		t.Errorf("sel info after delete = %v", kv)
	}

	b.mustIpmitool(t, "sel", "time", "set", "01/02/30 03:04:05")
	if out := b.mustIpmitool(t, "sel", "time", "get"); !strings.HasPrefix(out, "01/02/30 03:04:") {
		t.Errorf("sel time get = %q", out)
	}

	viewer := []string{"-U", "viewer", "-L", "USER"}
	for _, args := range [][]string{{"sel", "clear"}, {"sel", "time", "set", "01/02/30 03:04:05"}, {"event", "1"}} {
		if _, err := b.ipmitool(t, viewer, args...); err == nil {
			t.Errorf("viewer %v succeeded; needs Operator", args)
		}
	}
	if out, err := b.ipmitool(t, viewer, "sel", "elist"); err != nil || len(table(out)) != n-1 {
		t.Errorf("viewer sel elist: %v\n%s", err, out)
	}

	// The SEL survives a restart byte for byte.
	saved := b.srv.SEL().Entries()
	b.stop()
	b = startBMCWith(t, b.p, Config{StateDir: state})
	if after := b.srv.SEL().Entries(); fmt.Sprint(after) != fmt.Sprint(saved) {
		t.Errorf("after restart %v\nwant %v", after, saved)
	}
	if _, err := b.ipmitool(t, []string{"-U", "oper", "-L", "OPERATOR"}, "sel", "clear"); err != nil {
		t.Fatal(err)
	}
	if kv := keyValues(b.mustIpmitool(t, "sel", "info")); kv["Entries"] != "0" {
		t.Errorf("sel info after clear = %v", kv)
	}
}

func TestSELFreeIPMI(t *testing.T) {
	ipmisel := tool(t, "/usr/sbin/ipmi-sel")
	b := startBMC(t)
	common := []string{"-D", "LAN_2_0", "-h", "127.0.0.1:" + b.port, "-u", "admin", "-p", "password", "-l", "ADMIN",
		"--sdr-cache-directory=" + t.TempDir()}
	insert64(t, b.p, "CPU1_DIMM_H2")
	b.waitSEL(t, 2)
	out, err := run(t, ipmisel, common...)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	for _, r := range table(out) {
		if len(r) == 6 && (r[0] == "ID" || strings.HasSuffix(r[3], "_H2")) {
			rows = append(rows, r) // the header and the slot's own records (neighbours may log bus noise)
		}
	}
	if len(rows) != 3 || rows[1][3] != "CPU1_SLOT_H2" || rows[1][4] != "Slot/Connector" ||
		!strings.Contains(rows[1][5], "Device installed") || !strings.Contains(rows[1][5], "DIMM/memory device") ||
		rows[2][3] != "CPU1_DIMM_H2" || rows[2][4] != "Memory" || !strings.HasPrefix(rows[2][5], "Presence detected") {
		t.Errorf("ipmi-sel:\n%s", out)
	}
	// OEM interpretation reads Get Device ID's manufacturer first; records
	// of standard types must read the same with it (bmcemu logs no OEM
	// record types, so there is nothing OEM to interpret).
	oem, err := run(t, ipmisel, append(common, "--interpret-oem-data", "--output-event-state")...)
	if err != nil {
		t.Fatalf("ipmi-sel --interpret-oem-data: %v\n%s", err, oem)
	}
	for _, r := range rows[1:] {
		if !strings.Contains(oem, r[3]) || !strings.Contains(oem, r[5]) {
			t.Errorf("ipmi-sel --interpret-oem-data lost %v:\n%s", r, oem)
		}
	}
	info, err := run(t, ipmisel, append(common, "--info")...)
	if err != nil {
		t.Fatal(err)
	}
	kv := keyValues(info)
	if kv["SEL version"] != "1.5" || kv["Number of log entries"] != fmt.Sprint(b.srv.SEL().Info().Entries) || kv["Delete SEL Command"] != "supported" ||
		kv["Number of possible allocation units"] != "3639" {
		t.Errorf("ipmi-sel --info = %v", kv)
	}
	if _, err := run(t, ipmisel, append(common, "--delete", "1")...); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, ipmisel, append(common, "--clear")...); err != nil {
		t.Fatal(err)
	}
	if n := b.srv.SEL().Info().Entries; n != 0 {
		t.Errorf("%d entries after ipmi-sel --clear", n)
	}
}
