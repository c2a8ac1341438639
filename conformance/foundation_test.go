package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// kv parses "Key : Value" lines as ipmitool prints them.
func kv(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if _, dup := m[k]; !dup {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// fruDevices splits `ipmitool fru print` into devices keyed by
// description; a repeated field keeps its last value.
func fruDevices(out string) map[string]map[string]string {
	devs := map[string]map[string]string{}
	for name, lines := range fruSections(out) {
		cur := map[string]string{}
		for _, line := range lines {
			if k, v, ok := strings.Cut(line, ":"); ok {
				cur[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		devs[name] = cur
	}
	return devs
}

var fruTitle = regexp.MustCompile(`^FRU Device Description\s*:\s*(.+?)\s*\(ID [0-9a-fA-F]+h?\)`)

// fruSections splits `ipmitool fru print` into each device's lines, keyed
// by its description.
func fruSections(out string) map[string][]string {
	secs := map[string][]string{}
	name := ""
	for _, line := range strings.Split(out, "\n") {
		if m := fruTitle.FindStringSubmatch(line); m != nil {
			name = m[1]
			secs[name] = []string{}
			continue
		}
		if name != "" {
			secs[name] = append(secs[name], line)
		}
	}
	return secs
}

// sdrRows parses `ipmitool sdr elist` / `sdr list` / `sensor list` into
// name -> columns.
func sdrRows(out string) map[string][]string {
	rows := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		cols := strings.Split(line, "|")
		if len(cols) < 3 {
			continue
		}
		for i := range cols {
			cols[i] = strings.TrimSpace(cols[i])
		}
		rows[cols[0]] = cols[1:]
	}
	return rows
}

func TestIPMIBasicsWithIpmitool(t *testing.T) {
	e := start(t, startOpts{})

	mc := kv(e.mustIPMI("mc", "info"))
	if mc["IPMI Version"] != "2.0" {
		t.Errorf("mc info IPMI Version = %q, want 2.0", mc["IPMI Version"])
	}
	if mc["Firmware Revision"] == "" || mc["Manufacturer ID"] == "" {
		t.Errorf("mc info lacks firmware/manufacturer: %v", mc)
	}

	st := kv(e.mustIPMI("chassis", "status"))
	if st["System Power"] != "on" {
		t.Errorf("chassis status System Power = %q, want on", st["System Power"])
	}
	if out := e.mustIPMI("chassis", "power", "off"); !strings.Contains(out, "Down/Off") {
		t.Errorf("chassis power off: %q", out)
	}
	if out := e.mustIPMI("chassis", "power", "status"); !strings.Contains(out, "Chassis Power is off") {
		t.Errorf("after power off: %q", out)
	}
	var sys struct{ PowerState string }
	e.getJSON("/redfish/v1/Systems/1", &sys)
	if sys.PowerState != "Off" {
		t.Errorf("Redfish PowerState after ipmitool power off = %q", sys.PowerState)
	}
	e.mustIPMI("chassis", "power", "on")
	if out := e.mustIPMI("chassis", "power", "status"); !strings.Contains(out, "Chassis Power is on") {
		t.Errorf("after power on: %q", out)
	}

	devs := fruDevices(e.mustIPMI("fru", "print"))
	dimms := 0
	for name := range devs {
		if strings.Contains(name, "_DIMM_") {
			dimms++
		}
	}
	if dimms != 16 {
		t.Errorf("fru print shows %d DIMM devices, want 16: %v", dimms, keys(devs))
	}

	sensors := sdrRows(e.mustIPMI("sdr", "elist"))
	mem := 0
	for name, cols := range sensors {
		if !strings.Contains(name, "_DIMM_") {
			continue
		}
		mem++
		present := strings.Contains(strings.ToLower(strings.Join(cols, " ")), "presence detected")
		if want := strings.HasSuffix(name, "1"); present != want {
			t.Errorf("sdr elist %s: presence %v, want %v (%v)", name, present, want, cols)
		}
	}
	if mem != 32 {
		t.Errorf("sdr elist shows %d memory sensors, want 32", mem)
	}
	if rows := sdrRows(e.mustIPMI("sensor", "list")); len(rows) < 32 {
		t.Errorf("sensor list has %d rows, want >= 32", len(rows))
	}
	if rows := sdrRows(e.mustIPMI("sdr", "list")); len(rows) < 32 {
		t.Errorf("sdr list has %d rows, want >= 32", len(rows))
	}
}

func TestRedfishWithRedfishtool(t *testing.T) {
	e := start(t, startOpts{})
	out, err := e.redfishtool("Systems", "list")
	if err != nil {
		t.Fatalf("redfishtool Systems list: %v\n%s", err, out)
	}
	if !strings.Contains(out, "/redfish/v1/Systems/1") {
		t.Errorf("Systems list does not name /redfish/v1/Systems/1:\n%s", out)
	}
	out, err = e.redfishtool("raw", "GET", "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1")
	if err != nil {
		t.Fatalf("redfishtool raw GET memory: %v\n%s", err, out)
	}
	var m struct {
		Id             string
		CapacityMiB    int
		MemoryLocation struct{ Socket, Channel, Slot int }
		Status         struct{ State, Health string }
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("redfishtool output is not the member JSON: %v\n%s", err, out)
	}
	if m.Id != "CPU0_DIMM_A1" || m.CapacityMiB != 32768 || m.Status.State != "Enabled" || m.Status.Health != "OK" {
		t.Errorf("memory member via redfishtool: %+v", m)
	}
}

func TestRedfishProtocolBasics(t *testing.T) {
	e := start(t, startOpts{})
	resp, err := http.Get(e.URL + "/redfish/v1/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("OData-Version") != "4.0" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("service root without auth: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = http.Get(e.URL + "/redfish/v1/Systems")
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("Systems without auth: %d %v", resp.StatusCode, resp.Header)
	}
	var body struct {
		Error struct {
			Code string `json:"code"`
			Info []struct {
				MessageId string
			} `json:"@Message.ExtendedInfo"`
		} `json:"error"`
	}
	resp = e.getJSON("/redfish/v1/Systems/1/Memory/CPU9_DIMM_Q9", &body)
	if resp.StatusCode != 404 || !strings.HasPrefix(body.Error.Code, "Base.") || len(body.Error.Info) == 0 ||
		!strings.HasSuffix(body.Error.Info[0].MessageId, ".ResourceNotFound") {
		t.Errorf("unknown member: %d %+v", resp.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodDelete, e.URL+"/redfish/v1/Systems/1", nil)
	req.SetBasicAuth(e.User, e.Password)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") == "" {
		t.Errorf("DELETE system: %d Allow=%q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

type memSummary struct {
	MemorySummary struct{ TotalSystemMemoryGiB float64 }
}

// A module hot-added through the control path (attention, insert, the SMC,
// firmware and OS steps at 1000x speed) shows up in ipmitool's FRU and SDR
// output and in Redfish's Memory member and MemorySummary; an eject and pull
// takes it away from all of them.
func TestInsertSeenByEveryClient(t *testing.T) {
	e := start(t, startOpts{args: []string{"--speed", "1000"}})
	var before memSummary
	e.getJSON("/redfish/v1/Systems/1", &before)
	if before.MemorySummary.TotalSystemMemoryGiB != 512 {
		t.Fatalf("default TotalSystemMemoryGiB = %v, want 512", before.MemorySummary.TotalSystemMemoryGiB)
	}

	if out, err := e.ctl("attention", "CPU0_DIMM_A2"); err != nil {
		t.Fatalf("ctl attention: %v\n%s", err, out)
	}
	e.waitSlot("CPU0_DIMM_A2", "Isolated")
	if out, err := e.ctl("insert", "CPU0_DIMM_A2", "--capacity-gib", "64", "--part-number", "HOTADD-64G", "--wait"); err != nil {
		t.Fatalf("ctl insert --wait: %v\n%s", err, out)
	}
	out, err := e.ctl("slots", "CPU0_DIMM_A2", "-o", "json")
	if err != nil {
		t.Fatalf("ctl slots: %v\n%s", err, out)
	}
	var slot struct {
		Status string
		Module struct {
			SerialNumber string `json:"serial_number"`
			CapacityMiB  int    `json:"capacity_mib"`
		}
	}
	if err := json.Unmarshal([]byte(out), &slot); err != nil || slot.Status != "enabled" || slot.Module.CapacityMiB != 65536 {
		t.Fatalf("ctl insert -o json: %v %+v\n%s", err, slot, out)
	}
	serial := slot.Module.SerialNumber

	var after memSummary
	e.getJSON("/redfish/v1/Systems/1", &after)
	if after.MemorySummary.TotalSystemMemoryGiB != 576 {
		t.Errorf("TotalSystemMemoryGiB after insert = %v, want 576", after.MemorySummary.TotalSystemMemoryGiB)
	}
	var m struct {
		CapacityMiB  int
		PartNumber   string
		SerialNumber string
		Status       struct{ State string }
	}
	e.getJSON("/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2", &m)
	if m.CapacityMiB != 65536 || m.PartNumber != "HOTADD-64G" || m.SerialNumber != serial || m.Status.State != "Enabled" {
		t.Errorf("Redfish member after insert: %+v (serial want %s)", m, serial)
	}

	devs := fruDevices(e.mustIPMI("fru", "print"))
	var found map[string]string
	for name, d := range devs {
		if strings.Contains(name, "CPU0_DIMM_A2") {
			found = d
		}
	}
	if found == nil {
		t.Fatalf("fru print has no CPU0_DIMM_A2 device: %v", keys(devs))
	}
	joined := fmt.Sprint(found)
	if !strings.Contains(joined, serial) || !strings.Contains(joined, "HOTADD-64G") {
		t.Errorf("FRU CPU0_DIMM_A2 lacks serial %s / part number: %v", serial, found)
	}
	rows := sdrRows(e.mustIPMI("sdr", "elist"))
	if cols, ok := rows["CPU0_DIMM_A2"]; !ok || !strings.Contains(strings.ToLower(strings.Join(cols, " ")), "presence detected") {
		t.Errorf("sdr elist CPU0_DIMM_A2 after insert: %v", cols)
	}

	out, err = e.ctl("remove", "CPU0_DIMM_A2", "--wait")
	if err != nil || !strings.Contains(out, "removed CPU0_DIMM_A2") {
		t.Fatalf("ctl remove: %v\n%s", err, out)
	}
	e.getJSON("/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2", &m)
	if m.Status.State != "Absent" {
		t.Errorf("member after remove: %+v", m)
	}
	if _, ok := fruDevicesContaining(fruDevices(e.mustIPMI("fru", "print")), "CPU0_DIMM_A2"); ok {
		t.Error("fru print still shows CPU0_DIMM_A2 after removal")
	}
}

func fruDevicesContaining(devs map[string]map[string]string, s string) (map[string]string, bool) {
	for name, d := range devs {
		if strings.Contains(name, s) {
			return d, true
		}
	}
	return nil, false
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestBadInputGetsClearErrors(t *testing.T) {
	e := start(t, startOpts{})

	out, err := e.ctl("insert", "CPU9_DIMM_Z9")
	if err == nil || !strings.Contains(out, "UnknownSlot") {
		t.Errorf("insert into unknown slot: err=%v\n%s", err, out)
	}
	out, err = e.ctl("insert", "CPU0_DIMM_A1")
	if err == nil || !strings.Contains(out, "SlotOccupied") {
		t.Errorf("insert into occupied slot: err=%v\n%s", err, out)
	}
	out, err = e.ctl("insert", "CPU0_DIMM_A2", "--capacity-gib", "33")
	if err == nil || !strings.Contains(out, "no JEDEC organisation") {
		t.Errorf("impossible capacity: err=%v\n%s", err, out)
	}
	out, err = e.ctl("slots", "-o", "yaml")
	if err == nil || !strings.Contains(out, "want table or json") {
		t.Errorf("bad -o: err=%v\n%s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.spd")
	if err := os.WriteFile(bad, make([]byte, 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = e.ctl("insert", "CPU0_DIMM_A2", "--spd-file", bad)
	if err == nil || !strings.Contains(out, "ModuleRejected") {
		t.Errorf("blank SPD image: err=%v\n%s", err, out)
	}

	bin := needTool(t, "ipmitool")
	if out, err := run(t, 60*time.Second, bin, "-I", "lanplus", "-H", e.IPMIHost, "-p", fmt.Sprint(e.IPMIPort),
		"-U", e.User, "-P", "not-the-password", "-N", "1", "-R", "1", "mc", "info"); err == nil {
		t.Errorf("ipmitool with a wrong password succeeded:\n%s", out)
	}
	if out, err := e.ipmitool("-C", "0", "mc", "info"); err == nil {
		t.Errorf("cipher suite 0 accepted:\n%s", out)
	}
	// The server is unharmed and its state untouched.
	if mc := kv(e.mustIPMI("mc", "info")); mc["IPMI Version"] != "2.0" {
		t.Errorf("mc info after bad input: %v", mc)
	}
	var s memSummary
	e.getJSON("/redfish/v1/Systems/1", &s)
	if s.MemorySummary.TotalSystemMemoryGiB != 512 {
		t.Errorf("bad input changed memory: %v GiB", s.MemorySummary.TotalSystemMemoryGiB)
	}

	// A malformed profile is refused at start-up, naming line and field.
	prof := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(prof, []byte("name: x\nsystem:\n  manufacturer: a\n  model: b\n  serial_number: c\nmemory:\n  type: DDR5\n  speed_mts: 4800\n  sockets: 99\n  controllers_per_socket: 1\n  channels_per_controller: 1\n  slots_per_channel: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, 30*time.Second, bmcemuBin, "serve", "--ephemeral", "--profile", prof, "--redfish-addr", "127.0.0.1:0", "--ipmi-addr", "127.0.0.1:0")
	if err == nil || !strings.Contains(out, "p.yaml:9: memory.sockets: must be at most 8") {
		t.Errorf("bad profile: err=%v\n%s", err, out)
	}
}

// State that a real BMC keeps survives a graceful restart and kill -9.
func TestInventorySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	e := start(t, startOpts{stateDir: dir})
	if out, err := e.ctl("insert", "CPU1_DIMM_D2", "--capacity-gib", "128", "--ranks", "2"); err != nil {
		t.Fatalf("insert: %v\n%s", err, out)
	}
	if err := e.Stop(); err != nil {
		t.Fatalf("graceful stop: %v\n%s", err, e.Output())
	}
	e = start(t, startOpts{stateDir: dir})
	var m struct{ CapacityMiB int }
	e.getJSON("/redfish/v1/Systems/1/Memory/CPU1_DIMM_D2", &m)
	if m.CapacityMiB != 131072 {
		t.Fatalf("after restart CPU1_DIMM_D2 has %d MiB", m.CapacityMiB)
	}
	// Acknowledged, then power cut: the removal must still be there.
	if out, err := e.ctl("remove", "CPU0_DIMM_A1"); err != nil {
		t.Fatalf("remove: %v\n%s", err, out)
	}
	e.Kill9()
	e = start(t, startOpts{stateDir: dir})
	var a1 struct{ Status struct{ State string } }
	e.getJSON("/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1", &a1)
	if a1.Status.State != "Absent" {
		t.Fatalf("after kill -9 CPU0_DIMM_A1 is %q, want Absent", a1.Status.State)
	}
	out, _ := e.ctl("slots")
	if !strings.Contains(out, "CPU1_DIMM_D2") || !regexp.MustCompile(`CPU1_DIMM_D2\s+1\s+D\s+populated\s+128 GiB`).MatchString(out) {
		t.Errorf("ctl slots after restarts:\n%s", out)
	}
}

// freeipmi targets another port with -h HOST:PORT (its man page documents
// --hostname=HOST[:PORT]), so no root-only port 623 is needed.
func TestFreeIPMI(t *testing.T) {
	e := start(t, startOpts{})
	sensorsBin := needTool(t, "ipmi-sensors")
	fruBin := needTool(t, "ipmi-fru")
	host := fmt.Sprintf("%s:%d", e.IPMIHost, e.IPMIPort)
	common := []string{"-D", "LAN_2_0", "-h", host, "-u", e.User, "-p", e.Password, "-l", "ADMIN", "--session-timeout=5000", "--retransmission-timeout=1000"}
	cache := t.TempDir()
	out, err := run(t, 60*time.Second, sensorsBin, append(common, "--sdr-cache-directory="+cache, "--sdr-cache-recreate", "--sensor-types=Memory", "--comma-separated-output", "--no-header-output")...)
	if err != nil {
		t.Fatalf("ipmi-sensors: %v\n%s", err, out)
	}
	present, total := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		cols := strings.Split(line, ",")
		if len(cols) < 6 || !strings.Contains(cols[1], "_DIMM_") {
			continue
		}
		total++
		if strings.Contains(line, "Presence detected") {
			present++
		}
	}
	if total != 32 || present != 16 {
		t.Errorf("ipmi-sensors: %d memory sensors, %d present; want 32, 16\n%s", total, present, out)
	}
	out, err = run(t, 60*time.Second, fruBin, append(common, "--sdr-cache-directory="+cache)...)
	if err != nil {
		t.Fatalf("ipmi-fru: %v\n%s", err, out)
	}
	if n := strings.Count(out, "_DIMM_"); n < 16 || !strings.Contains(out, "M321R4GA3BB6-CQK") {
		t.Errorf("ipmi-fru shows %d DIMM devices or lacks the part number:\n%s", n, out)
	}
}

// The live tree exports as a DMTF mockup folder that reads back.
func TestExportMockup(t *testing.T) {
	e := start(t, startOpts{})
	dir := filepath.Join(t.TempDir(), "mockup")
	out, err := run(t, 60*time.Second, bmcemuBin, "mockup", "export", dir, "--server", e.URL, "-u", e.User, "-p", e.Password)
	if err != nil {
		t.Fatalf("mockup export: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "redfish", "v1", "Systems", "1", "Memory", "CPU1_DIMM_H1", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Id string }
	if err := json.Unmarshal(b, &m); err != nil || m.Id != "CPU1_DIMM_H1" {
		t.Fatalf("exported member: %v %s", err, b)
	}
	if out, err := run(t, 60*time.Second, bmcemuBin, "mockup", "diff", dir, dir); err != nil {
		t.Fatalf("a mockup differs from itself: %v\n%s", err, out)
	}
}

// The start-up banner is for people: nothing but it and slog lines may
// reach the terminal (no framework debug dumps).
func TestQuietStartup(t *testing.T) {
	e := start(t, startOpts{})
	if out := e.Output(); strings.Contains(out, "[GIN-debug]") || strings.Contains(out, "[GIN]") {
		t.Fatalf("framework debug output at start-up:\n%s", out)
	}
}
