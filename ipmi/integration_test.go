package ipmi

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform"
)

// tool finds an external client. Without it the test is skipped, unless CI
// demands that every test run.
func tool(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return path
	}
	base := path[strings.LastIndex(path, "/")+1:]
	if p, err := exec.LookPath(base); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed and CI=true: install it (ipmitool / freeipmi-tools)", base)
	}
	t.Skipf("%s is not installed; skipping the end-to-end check with the real client", base)
	return ""
}

type liveBMC struct {
	p    *platform.Platform
	srv  *Server
	host string
	port string
	stop func()
}

func startBMC(t *testing.T) *liveBMC {
	t.Helper()
	return startBMCOn(t, newPlatform(t))
}

// startBMCOn serves p until the test ends.
func startBMCOn(t *testing.T, p *platform.Platform) *liveBMC {
	t.Helper()
	return startBMCWith(t, p, Config{})
}

// startBMCWith serves p with cfg's optional fields (Addr defaults to an
// ephemeral port on 127.0.0.1).
func startBMCWith(t *testing.T, p *platform.Platform, cfg Config) *liveBMC {
	t.Helper()
	cfg.Addr = cmp.Or(cfg.Addr, "127.0.0.1:0")
	cfg.Users, cfg.Logger = testUsers, discardLogger()
	s, err := New(cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	t.Cleanup(stop)
	host, port, _ := net.SplitHostPort(s.Addr().String())
	return &liveBMC{p: p, srv: s, host: host, port: port, stop: stop}
}

// run executes a client and returns its stdout; stderr is folded into the
// error so failures explain themselves.
func run(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	// ipmitool reads and prints SEL times in local time: pin it.
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

func (b *liveBMC) ipmitool(t *testing.T, extra []string, args ...string) (string, error) {
	t.Helper()
	base := []string{"-I", "lanplus", "-H", b.host, "-p", b.port, "-U", "admin", "-P", "password"}
	return run(t, tool(t, "/usr/bin/ipmitool"), append(append(base, extra...), args...)...)
}

func (b *liveBMC) mustIpmitool(t *testing.T, args ...string) string {
	t.Helper()
	out, err := b.ipmitool(t, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// keyValues parses "Key : Value" lines; repeated keys are joined with "|".
func keyValues(out string) map[string]string {
	kv := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if old, dup := kv[k]; dup {
			v = old + "|" + v
		}
		kv[k] = v
	}
	return kv
}

// table splits "a | b | c" rows into trimmed cells.
func table(out string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(line, "|") {
			continue
		}
		cells := strings.Split(line, "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	return rows
}

var fruTitle = regexp.MustCompile(`^(?:FRU Device Description|FRU Inventory Device)\s*:\s*(.+?) \(ID ([0-9a-fA-F]+)h?\)`)

// fruBlocks splits `ipmitool fru print` / `ipmi-fru` output by device.
func fruBlocks(out string) map[string]map[string]string {
	blocks := map[string]map[string]string{}
	var cur []string
	var name string
	flush := func() {
		if name != "" {
			blocks[name] = keyValues(strings.Join(cur, "\n"))
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if m := fruTitle.FindStringSubmatch(line); m != nil {
			flush()
			name, cur = m[1], nil
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return blocks
}

func rfc4122(wire [16]byte) string {
	var u [16]byte
	for i := range wire {
		u[i] = wire[15-i]
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func TestIpmitool(t *testing.T) {
	tool(t, "/usr/bin/ipmitool")
	b := startBMC(t)

	t.Run("mc info", func(t *testing.T) {
		kv := keyValues(b.mustIpmitool(t, "mc", "info"))
		if kv["IPMI Version"] != "2.0" || kv["Firmware Revision"] != "1.00" || kv["Device Available"] != "yes" {
			t.Errorf("mc info = %v", kv)
		}
		out := b.mustIpmitool(t, "mc", "info")
		for _, want := range []string{"Sensor Device", "SDR Repository Device", "SEL Device", "FRU Inventory Device",
			"IPMB Event Receiver", "Chassis Device"} {
			if !strings.Contains(out, want) {
				t.Errorf("mc info lacks %q:\n%s", want, out)
			}
		}
		for _, not := range []string{"IPMB Event Generator", "Bridge"} {
			if strings.Contains(out, not) {
				t.Errorf("mc info advertises %q, which is not implemented", not)
			}
		}
	})

	t.Run("mc guid", func(t *testing.T) {
		kv := keyValues(b.mustIpmitool(t, "mc", "guid"))
		if want := rfc4122(systemGUID(b.p.Snapshot())); kv["System GUID"] != want {
			t.Errorf("System GUID = %q, want %q (%v)", kv["System GUID"], want, kv)
		}
	})

	t.Run("chassis", func(t *testing.T) {
		if kv := keyValues(b.mustIpmitool(t, "chassis", "status")); kv["System Power"] != "on" {
			t.Errorf("chassis status = %v", kv)
		}
		b.mustIpmitool(t, "chassis", "power", "off")
		if b.p.Snapshot().PowerOn {
			t.Error("platform still on after chassis power off")
		}
		if out := b.mustIpmitool(t, "chassis", "power", "status"); !strings.Contains(out, "Chassis Power is off") {
			t.Errorf("power status = %q", out)
		}
		if _, err := b.ipmitool(t, nil, "chassis", "power", "cycle"); err == nil {
			t.Error("power cycle while off succeeded; want D5h")
		}
		b.mustIpmitool(t, "chassis", "power", "on")
		if out := b.mustIpmitool(t, "chassis", "power", "status"); !strings.Contains(out, "Chassis Power is on") || !b.p.Snapshot().PowerOn {
			t.Errorf("power status = %q, platform on = %v", out, b.p.Snapshot().PowerOn)
		}
		b.mustIpmitool(t, "chassis", "power", "cycle")
		// The power comes back after the cycle's off time, then the host
		// boots.
		waitOSRunning(t, b.p)
		if !b.p.Snapshot().PowerOn {
			t.Error("host off after power cycle")
		}
	})

	checkSensors := func(t *testing.T) {
		snap := b.p.Snapshot()
		rows := table(b.mustIpmitool(t, "sdr", "elist"))
		// Per slot its Memory, Slot/Connector and temperature sensors,
		// then the processors' temperatures and the fans (board.go).
		if len(rows) != 3*len(snap.Slots)+8 {
			t.Fatalf("sdr elist: %d rows, want %d", len(rows), 3*len(snap.Slots)+8)
		}
		checkBoardRows(t, snap, rows[3*len(snap.Slots):])
		for i, s := range snap.Slots {
			r := rows[2*len(snap.Slots)+i]
			status, want := "ns", "No Reading"
			if c, ok := dimmTemperature(s); ok {
				status, want = "ok", fmt.Sprintf("%d degrees C", c)
			}
			if r[0] != tempSensorName(s.Name) || r[1] != fmt.Sprintf("%02Xh", 0xC0+s.Ordinal) || r[2] != status ||
				r[3] != fmt.Sprintf("32.%d", s.Ordinal+1) || r[4] != want {
				t.Errorf("sdr elist row %q, want %s %02Xh %s 32.%d %q", r, tempSensorName(s.Name), 0xC0+s.Ordinal, status, s.Ordinal+1, want)
			}
		}
		for i, s := range snap.Slots {
			r := rows[len(snap.Slots)+i]
			want := ""
			if s.Module != nil {
				want = "Device Installed"
			}
			if name := strings.Replace(s.Name, "DIMM", "SLOT", 1); r[0] != name || r[1] != fmt.Sprintf("%02Xh", 0x60+s.Ordinal) ||
				r[2] != "ok" || r[3] != fmt.Sprintf("32.%d", s.Ordinal+1) || r[4] != want {
				t.Errorf("sdr elist row %q, want %s %02Xh ok 32.%d %q", r, name, 0x60+s.Ordinal, s.Ordinal+1, want)
			}
		}
		for i, s := range snap.Slots {
			r := rows[i]
			want := ""
			if s.Module != nil {
				want = "Presence Detected"
			}
			if r[0] != s.Name || r[1] != fmt.Sprintf("%02Xh", s.Ordinal+1) || r[2] != "ok" ||
				r[3] != fmt.Sprintf("32.%d", s.Ordinal+1) || r[4] != want {
				t.Errorf("sdr elist row %q, want %s %02Xh ok 32.%d %q", r, s.Name, s.Ordinal+1, s.Ordinal+1, want)
			}
		}
		rows = table(b.mustIpmitool(t, "sensor", "list"))
		if len(rows) != 3*len(snap.Slots)+8 {
			t.Fatalf("sensor list: %d rows, want %d", len(rows), 3*len(snap.Slots)+8)
		}
		for i, s := range snap.Slots {
			want := "0x0"
			if s.Module != nil {
				want = "0x40"
			}
			if r := rows[i]; r[0] != s.Name || r[1] != want || r[2] != "discrete" {
				t.Errorf("sensor list row %q, want %s %s discrete", r, s.Name, want)
			}
		}
	}

	t.Run("sdr", func(t *testing.T) {
		rows := table(b.mustIpmitool(t, "sdr", "list"))
		if len(rows) != 104 {
			t.Errorf("sdr list: %d rows, want 104", len(rows))
		}
		all := b.mustIpmitool(t, "sdr", "elist", "all")
		if !regexp.MustCompile(`(?m)^BMC\s+\|.*MC @ 20h`).MatchString(all) {
			t.Errorf("sdr elist all has no MC locator:\n%s", all)
		}
		if n, want := strings.Count(all, "Logical FRU"), b.p.Snapshot().Populated()+4; n != want {
			t.Errorf("%d FRU locators, want %d", n, want)
		}
		checkSensors(t)
	})

	checkFRU := func(t *testing.T) {
		snap := b.p.Snapshot()
		blocks := fruBlocks(b.mustIpmitool(t, "fru", "print"))
		if len(blocks) != 1+snap.Populated()+4 {
			t.Errorf("fru print: %d devices, want %d", len(blocks), 1+snap.Populated()+4)
		}
		for _, c := range snap.Hardware.Processors {
			if blk := blocks[c.ID]; blk["Board Mfg"] != c.Manufacturer || blk["Board Product"] != c.Model || blk["Board Serial"] != c.SerialNumber ||
				blk["Product Version"] != c.Microcode {
				t.Errorf("%s FRU = %v", c.ID, blk)
			}
		}
		for _, n := range snap.Hardware.NICs {
			if blk := blocks["NIC "+n.ID]; blk["Board Product"] != n.Model || blk["Board Serial"] != n.SerialNumber ||
				!strings.Contains(blk["Board Extra"], "MAC 1: "+strings.ToUpper(n.Ports[0].MAC)) || blk["Product Version"] != n.FirmwareVersion {
				t.Errorf("NIC %s FRU = %v", n.ID, blk)
			}
		}
		board := blocks["Builtin FRU Device"]
		if board["Board Serial"] != snap.System.SerialNumber || board["Product Name"] != snap.System.Model {
			t.Errorf("board FRU = %v", board)
		}
		for _, s := range snap.Slots {
			blk, ok := blocks[s.Name]
			if (s.Module != nil) != ok {
				t.Errorf("%s: FRU present = %v, module present = %v", s.Name, ok, s.Module != nil)
				continue
			}
			if !ok {
				continue
			}
			m := s.Module.SPD
			if blk["Board Mfg"] != m.Manufacturer || blk["Board Serial"] != m.SerialNumber ||
				blk["Board Part Number"] != m.PartNumber || blk["Product Name"] != moduleDescription(m) {
				t.Errorf("%s FRU = %v, want SPD %+v", s.Name, blk, m)
			}
		}
	}

	t.Run("fru print", checkFRU)

	t.Run("insert", func(t *testing.T) {
		mod := insert64(t, b.p, "CPU0_DIMM_A2")
		// The hot-add runs on after Insert returns and moves the
		// module's temperature as its rail comes up; compare once it
		// has settled, or the reading changes between the test's
		// snapshot and ipmitool's.
		waitSettled(t, b.p, "CPU0_DIMM_A2")
		checkFRU(t)
		checkSensors(t)
		blk := fruBlocks(b.mustIpmitool(t, "fru", "print"))["CPU0_DIMM_A2"]
		if !strings.HasPrefix(blk["Product Name"], "64 GiB") || blk["Board Part Number"] != mod.PartNumber {
			t.Errorf("CPU0_DIMM_A2 FRU = %v", blk)
		}
		if _, err := b.p.Remove("CPU0_DIMM_A2"); err != nil {
			t.Fatal(err)
		}
		checkFRU(t)
	})

	t.Run("privileges", func(t *testing.T) {
		viewer := []string{"-U", "viewer", "-L", "USER"}
		if out, err := b.ipmitool(t, viewer, "sdr", "elist"); err != nil || len(table(out)) != 104 {
			t.Errorf("viewer sdr elist: %v\n%s", err, out)
		}
		_, err := b.ipmitool(t, viewer, "chassis", "power", "off")
		if err == nil || !strings.Contains(err.Error(), "Insufficient privilege") {
			t.Errorf("viewer power off: %v, want insufficient privilege", err)
		}
		if !b.p.Snapshot().PowerOn {
			t.Error("viewer turned the host off")
		}
		if _, err := b.ipmitool(t, []string{"-U", "oper", "-L", "OPERATOR"}, "chassis", "power", "status"); err != nil {
			t.Errorf("operator: %v", err)
		}
	})

	t.Run("authentication", func(t *testing.T) {
		if _, err := b.ipmitool(t, []string{"-P", "wrong"}, "mc", "info"); err == nil {
			t.Error("wrong password accepted")
		}
		if _, err := b.ipmitool(t, []string{"-U", "nobody"}, "mc", "info"); err == nil {
			t.Error("unknown user accepted")
		}
		if _, err := b.ipmitool(t, []string{"-C", "0"}, "mc", "info"); err == nil {
			t.Error("cipher suite 0 accepted")
		}
		for _, c := range []string{"3", "17"} {
			if _, err := b.ipmitool(t, []string{"-C", c}, "mc", "info"); err != nil {
				t.Errorf("cipher suite %s: %v", c, err)
			}
		}
		// IPMI v1.5 is off by design.
		lan := []string{"-I", "lan", "-H", "127.0.0.1", "-p", b.port, "-U", "admin", "-P", "password", "mc", "info"}
		if _, err := run(t, tool(t, "/usr/bin/ipmitool"), lan...); err == nil {
			t.Error("IPMI v1.5 (-I lan) session accepted")
		}
		// The server is still answering after all that.
		b.mustIpmitool(t, "mc", "info")
	})
}

func TestFreeIPMI(t *testing.T) {
	sensors := tool(t, "/usr/sbin/ipmi-sensors")
	fru := tool(t, "/usr/sbin/ipmi-fru")
	b := startBMC(t)
	cache := t.TempDir()
	// freeipmi takes the port as host:port.
	common := []string{"-D", "LAN_2_0", "-h", "127.0.0.1:" + b.port, "-u", "admin", "-p", "password", "-l", "ADMIN",
		"--sdr-cache-directory=" + cache}

	readSensors := func(t *testing.T, extra ...string) map[string][]string {
		t.Helper()
		out, err := run(t, sensors, append(append([]string{}, common...), extra...)...)
		if err != nil {
			t.Fatal(err)
		}
		rows := map[string][]string{}
		for _, r := range table(out) {
			if len(r) == 6 && r[2] == "Memory" {
				rows[r[1]] = r
			}
		}
		return rows
	}
	checkSensors := func(t *testing.T, rows map[string][]string) {
		t.Helper()
		snap := b.p.Snapshot()
		if len(rows) != len(snap.Slots) {
			t.Errorf("%d Memory sensors, want %d", len(rows), len(snap.Slots))
		}
		for _, s := range snap.Slots {
			want := "'OK'"
			if s.Module != nil {
				want = "'Presence detected'"
			}
			if r := rows[s.Name]; r == nil || r[5] != want {
				t.Errorf("%s: %q, want event %s", s.Name, r, want)
			}
		}
	}

	checkSensors(t, readSensors(t, "--sdr-cache-recreate"))

	// The processors' temperatures and the fans, as freeipmi reads them:
	// "ID | Name | Type | Reading | Units | Event".
	if out, err := run(t, sensors, append(append([]string{}, common...), "-t", "Temperature,Fan")...); err != nil {
		t.Fatal(err)
	} else {
		got := map[string][]string{}
		for _, r := range table(out) {
			got[r[1]] = r
		}
		h := b.p.Snapshot().Hardware
		for _, c := range h.Processors {
			if r := got[c.ID+"_TEMP"]; r == nil || r[2] != "Temperature" || r[3] != fmt.Sprintf("%d.00", c.TemperatureC) || r[4] != "C" || r[5] != "'OK'" {
				t.Errorf("ipmi-sensors %s_TEMP: %q, want %d C", c.ID, r, c.TemperatureC)
			}
		}
		for _, f := range h.Fans {
			if r := got[f.ID]; r == nil || r[2] != "Fan" || r[3] != fmt.Sprintf("%d.00", f.RPM) || r[4] != "RPM" || r[5] != "'OK'" {
				t.Errorf("ipmi-sensors %s: %q, want %d RPM", f.ID, r, f.RPM)
			}
		}
	}

	// A module inserted after caching changes the repository timestamps; the
	// cache must be refused as stale rather than silently reused.
	insert64(t, b.p, "CPU1_DIMM_H2")
	if out, err := run(t, sensors, common...); err == nil || !strings.Contains(err.Error(), "out of date") {
		t.Errorf("stale SDR cache not detected: %v\n%s", err, out)
	}
	checkSensors(t, readSensors(t, "--sdr-cache-recreate"))

	out, err := run(t, fru, common...)
	if err != nil {
		t.Fatal(err)
	}
	blocks := fruBlocks(out)
	snap := b.p.Snapshot()
	if len(blocks) != 1+snap.Populated()+4 {
		t.Errorf("ipmi-fru: %d devices, want %d:\n%s", len(blocks), 1+snap.Populated()+4, out)
	}
	for _, c := range snap.Hardware.Processors {
		if blk := blocks[c.ID]; blk["FRU Board Product Name"] != c.Model || blk["FRU Board Serial Number"] != c.SerialNumber {
			t.Errorf("ipmi-fru %s = %v", c.ID, blk)
		}
	}
	for _, n := range snap.Hardware.NICs {
		if blk := blocks["NIC "+n.ID]; blk["FRU Board Product Name"] != n.Model || blk["FRU Product Version"] != n.FirmwareVersion {
			t.Errorf("ipmi-fru NIC %s = %v", n.ID, blk)
		}
	}
	for _, s := range snap.Slots {
		if s.Module == nil {
			continue
		}
		blk := blocks[s.Name]
		m := s.Module.SPD
		if blk["FRU Board Serial Number"] != m.SerialNumber || blk["FRU Board Manufacturer"] != m.Manufacturer ||
			blk["FRU Board Part Number"] != m.PartNumber || blk["FRU Product Name"] != moduleDescription(m) {
			t.Errorf("ipmi-fru %s = %v, want SPD %+v", s.Name, blk, m)
		}
	}
	if _, err := run(t, sensors, append(common, "--sdr-cache-recreate", "-u", "admin", "-p", "wrong")...); err == nil {
		t.Error("freeipmi logged in with a wrong password")
	}
}

// A restart must not invalidate freeipmi's SDR cache: the repository
// timestamps come from the persisted inventory, not from process start.
func TestFreeIPMICacheSurvivesRestart(t *testing.T) {
	sensors := tool(t, "/usr/sbin/ipmi-sensors")
	store := platform.NewFileInventory(t.TempDir() + "/inventory.json")
	cache := t.TempDir()
	args := func(b *liveBMC, extra ...string) []string {
		return append([]string{"-D", "LAN_2_0", "-h", "127.0.0.1:" + b.port, "-u", "admin", "-p", "password", "-l", "ADMIN",
			"--sdr-cache-directory=" + cache, "--quiet-cache"}, extra...)
	}

	first := startBMCOn(t, newPlatformWith(t, platform.Options{Clock: newClock(), Store: store}))
	if _, err := run(t, sensors, args(first, "--sdr-cache-recreate")...); err != nil {
		t.Fatal(err)
	}
	first.stop()
	// Let the wall clock reach the next second, so that a timestamp taken
	// from the process (rather than the inventory) would differ.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))

	later := newClock()
	later.now = later.now.AddDate(0, 1, 0)
	second := startBMCOn(t, newPlatformWith(t, platform.Options{Clock: later, Store: store}))
	// freeipmi names its cache after the host, port included; reuse the file.
	if second.port != first.port {
		old := cache + "/.freeipmi/sdr-cache/sdr-cache-" + hostname(t) + ".127.0.0.1:" + first.port
		if err := os.Rename(old, cache+"/.freeipmi/sdr-cache/sdr-cache-"+hostname(t)+".127.0.0.1:"+second.port); err != nil {
			t.Fatalf("reuse cache: %v", err)
		}
	}
	out, err := run(t, sensors, args(second)...)
	if err != nil {
		t.Fatalf("cache rejected after restart: %v", err)
	}
	if n := strings.Count(out, "Memory"); n != 32 {
		t.Errorf("%d Memory sensors from the cache, want 32:\n%s", n, out)
	}
}

func hostname(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitN(h, ".", 2)[0]
}

// checkBoardRows holds sdr elist's processor temperature and fan rows to
// the platform's readings: F0h + socket at entity 3.n, F8h + index at
// 29.n, fans with no reading while the host is off.
func checkBoardRows(t *testing.T, snap *platform.Snapshot, rows [][]string) {
	t.Helper()
	h := snap.Hardware
	for i, c := range h.Processors {
		r := rows[i]
		if r[0] != c.ID+"_TEMP" || r[1] != fmt.Sprintf("%02Xh", 0xF0+i) || r[2] != "ok" || r[3] != fmt.Sprintf("3.%d", i+1) ||
			r[4] != fmt.Sprintf("%d degrees C", c.TemperatureC) {
			t.Errorf("sdr elist row %q, want %s at %d degrees C", r, c.ID, c.TemperatureC)
		}
	}
	for i, f := range h.Fans {
		r := rows[len(h.Processors)+i]
		status, reading := "ok", fmt.Sprintf("%d RPM", f.RPM)
		if !snap.PowerOn {
			status, reading = "ns", "No Reading"
		}
		if r[0] != f.ID || r[1] != fmt.Sprintf("%02Xh", 0xF8+i) || r[2] != status || r[3] != fmt.Sprintf("29.%d", i+1) || r[4] != reading {
			t.Errorf("sdr elist row %q, want %s %s %q", r, f.ID, status, reading)
		}
	}
}
