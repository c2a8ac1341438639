package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/conformance/schemacheck"
)

// The three VM guest profiles driven the way an operator drives a
// hypervisor (`bmcemu ctl vm`), observed through the guest's in-band
// views, redfishtool and the DMTF schemas.

type iomemRes struct {
	Start         uint64     `json:"start"`
	End           uint64     `json:"end"`
	Name          string     `json:"name"`
	DriverManaged bool       `json:"driver_managed"`
	Children      []iomemRes `json:"children"`
}

func (e *Emulator) iomemNamed(name string) []iomemRes {
	e.t.Helper()
	var io struct{ Resources []iomemRes }
	e.getJSON("/emulator/v1/os/iomem", &io)
	var out []iomemRes
	var walk func([]iomemRes)
	walk = func(rs []iomemRes) {
		for _, r := range rs {
			if r.Name == name {
				out = append(out, r)
			}
			walk(r.Children)
		}
	}
	walk(io.Resources)
	return out
}

func (e *Emulator) memTotalKiB() uint64 {
	e.t.Helper()
	var mi struct{ MemTotal uint64 }
	e.getJSON("/emulator/v1/os/meminfo", &mi)
	return mi.MemTotal
}

// inFirmwareMemmap reports whether addr is System RAM in the guest's
// /sys/firmware/memmap, and whether kexec would take it as RAM.
func (e *Emulator) inFirmwareMemmap(addr uint64) (memmap, kexec bool) {
	e.t.Helper()
	var fm struct {
		Entries []struct {
			Start, End uint64
			Type       string
		}
		KexecRAM []struct{ Start, Size uint64 } `json:"kexec_ram"`
	}
	e.getJSON("/emulator/v1/os/firmware-memmap", &fm)
	for _, x := range fm.Entries {
		if x.Start <= addr && addr <= x.End && x.Type == "System RAM" {
			memmap = true
		}
	}
	for _, x := range fm.KexecRAM {
		if x.Start <= addr && addr < x.Start+x.Size {
			kexec = true
		}
	}
	return memmap, kexec
}

func (e *Emulator) dmesgHas(t *testing.T, subs ...string) {
	t.Helper()
	out, err := e.ctl("dmesg")
	if err != nil {
		t.Fatalf("ctl dmesg: %v", err)
	}
	for _, s := range subs {
		if !strings.Contains(out, s) {
			t.Errorf("dmesg lacks %q", s)
		}
	}
}

// refusedCtl runs a ctl command that must fail with want in its output.
func (e *Emulator) refusedCtl(t *testing.T, want string, args ...string) {
	t.Helper()
	out, err := e.ctl(args...)
	if err == nil || !strings.Contains(out, want) {
		t.Errorf("ctl %s: err %v, output %q; want a refusal naming %q", strings.Join(args, " "), err, out, want)
	}
}

// redfishMemory reads a Memory resource through redfishtool and validates
// it against DSP8010's schema.
func (e *Emulator) redfishMemory(t *testing.T, v *schemacheck.Validator, id string) map[string]any {
	t.Helper()
	out, err := e.redfishtool("raw", "GET", "/redfish/v1/Systems/1/Memory/"+id)
	if err != nil {
		t.Fatalf("redfishtool raw GET Memory/%s: %v\n%s", id, err, out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &m); err != nil {
		t.Fatalf("redfishtool output not JSON: %v\n%s", err, out)
	}
	loc, err := schemacheck.SchemaFor(fmt.Sprint(m["@odata.type"]))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate([]byte(out[strings.Index(out, "{"):]), loc); err != nil {
		t.Errorf("Memory/%s fails the schema: %v", id, err)
	}
	return m
}

func vmStatus(t *testing.T, e *Emulator) map[string]any {
	t.Helper()
	var st map[string]any
	if resp := e.getJSON("/emulator/v1/vm", &st); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /vm: %d", resp.StatusCode)
	}
	return st
}

func TestVMGuestVirtioMem(t *testing.T) {
	v := schemacheck.NewForTest(t)
	e := start(t, startOpts{args: []string{"--profile", "virtio-mem", "--speed", "1000"}})
	total0 := e.memTotalKiB()
	out := e.mustCtl(t, "vm", "virtio-mem", "set-requested", "2G")
	if !strings.Contains(out, "plugged-size 2G") {
		t.Fatalf("set-requested 2G: %s", out)
	}
	if got := e.memTotalKiB() - total0; got != 2<<20 {
		t.Errorf("MemTotal grew by %d kB, want 2 GiB", got)
	}
	ram := e.iomemNamed("System RAM (virtio_mem)")
	dev := e.iomemNamed("virtio0")
	if len(ram) != 1 || !ram[0].DriverManaged || ram[0].End-ram[0].Start+1 != 2<<30 || len(dev) != 1 || dev[0].Children[0].Name != ram[0].Name {
		t.Fatalf("iomem: virtio0 %+v, System RAM (virtio_mem) %+v", dev, ram)
	}
	if memmap, kexec := e.inFirmwareMemmap(ram[0].Start); memmap || kexec {
		t.Errorf("virtio_mem memory in /sys/firmware/memmap (%v) or kexec's RAM (%v)", memmap, kexec)
	}
	if memmap, kexec := e.inFirmwareMemmap(1 << 32); !memmap || !kexec {
		t.Errorf("boot memory missing from /sys/firmware/memmap (%v) or kexec's RAM (%v)", memmap, kexec)
	}
	e.dmesgHas(t, "virtio_mem virtio0: device block size: 0x400000", "virtio_mem virtio0: memory block size: 0x8000000",
		"(System RAM (virtio_mem)) to node 0")
	m := e.redfishMemory(t, v, "vmem0")
	if m["CapacityMiB"] != 2048.0 || m["MemoryDeviceType"] != "Logical" {
		t.Errorf("Redfish vmem0: %v", m)
	}

	// Refused: nothing changes.
	e.refusedCtl(t, "exceeds the region size", "vm", "virtio-mem", "set-requested", "200G")
	e.refusedCtl(t, "has to be multiples of 'block-size'", "vm", "virtio-mem", "set-requested", "2050M")
	e.refusedCtl(t, "unknown suffix", "vm", "virtio-mem", "set-requested", "1.5G")
	e.refusedCtl(t, "no pc-dimm slots", "vm", "pc-dimm", "plug", "1G")
	vm := vmStatus(t, e)["virtio_mem"].(map[string]any)
	if vm["requested_size"] != float64(2<<30) || vm["plugged_size"] != float64(2<<30) {
		t.Errorf("refused requests changed the device: %v", vm)
	}

	// Free page reporting moves the host's counter.
	var rep struct {
		ReportedTotal uint64 `json:"reported_total_bytes"`
	}
	if err := json.Unmarshal([]byte(e.mustCtl(t, "vm", "balloon", "report", "-o", "json")), &rep); err != nil || rep.ReportedTotal == 0 {
		t.Errorf("page reporting: %+v, %v", rep, err)
	}

	// Shrink: sub-blocks go back, emptied blocks are removed.
	e.mustCtl(t, "vm", "virtio-mem", "set-requested", "512M")
	if got := e.memTotalKiB() - total0; got != 512<<10 {
		t.Errorf("after shrinking: MemTotal +%d kB, want 512 MiB", got)
	}
	if ram := e.iomemNamed("System RAM (virtio_mem)"); len(ram) != 1 || ram[0].End-ram[0].Start+1 != 512<<20 {
		t.Errorf("after shrinking: %+v", ram)
	}
	if m := e.redfishMemory(t, v, "vmem0"); m["CapacityMiB"] != 512.0 {
		t.Errorf("Redfish after shrinking: %v", m["CapacityMiB"])
	}
}

func TestVMGuestBalloon(t *testing.T) {
	e := start(t, startOpts{args: []string{"--profile", "balloon", "--speed", "1000"}})
	total0 := e.memTotalKiB()
	var io0 json.RawMessage
	e.getJSON("/emulator/v1/os/iomem", &io0)
	var blocks0 json.RawMessage
	e.getJSON("/emulator/v1/os/blocks", &blocks0)
	out := e.mustCtl(t, "vm", "balloon", "set", "8G")
	if !strings.Contains(out, "2097152 of 2097152 pages") {
		t.Fatalf("balloon set 8G: %s", out)
	}
	if got := total0 - e.memTotalKiB(); got != 8<<20 {
		t.Errorf("MemTotal fell by %d kB, want 8 GiB", got)
	}
	var io1, blocks1 json.RawMessage
	e.getJSON("/emulator/v1/os/iomem", &io1)
	e.getJSON("/emulator/v1/os/blocks", &blocks1)
	if string(io0) != string(io1) {
		t.Error("the balloon changed /proc/iomem")
	}
	var b0, b1 struct{ Blocks []struct{ ID int } }
	_ = json.Unmarshal(blocks0, &b0)
	_ = json.Unmarshal(blocks1, &b1)
	if len(b0.Blocks) == 0 || len(b0.Blocks) != len(b1.Blocks) {
		t.Errorf("memory blocks %d -> %d", len(b0.Blocks), len(b1.Blocks))
	}
	sys, err := e.redfishtool("raw", "GET", "/redfish/v1/Systems/1")
	if err != nil || !strings.Contains(sys, `"TotalSystemMemoryGiB": 8`) {
		t.Errorf("redfishtool Systems/1: MemorySummary not 8 GiB: %v\n%s", err, sys)
	}
	e.refusedCtl(t, "positive multiple of 4096", "vm", "balloon", "set", "0")
	e.refusedCtl(t, "no virtio-mem device", "vm", "virtio-mem", "set-requested", "1G")
	e.mustCtl(t, "vm", "balloon", "set", "16G")
	if e.memTotalKiB() != total0 {
		t.Error("deflating did not restore MemTotal")
	}
}

func TestVMGuestPCDimm(t *testing.T) {
	v := schemacheck.NewForTest(t)
	e := start(t, startOpts{args: []string{"--profile", "pc-dimm", "--speed", "1000"}})
	total0 := e.memTotalKiB()
	var d struct {
		ID    string
		Addr  uint64
		Added bool
	}
	if err := json.Unmarshal([]byte(e.mustCtl(t, "vm", "pc-dimm", "plug", "8G", "-o", "json")), &d); err != nil || !d.Added || d.ID != "dimm0" {
		t.Fatalf("plug 8G: %+v, %v", d, err)
	}
	if got := e.memTotalKiB() - total0; got != 8<<20 {
		t.Errorf("MemTotal +%d kB, want 8 GiB", got)
	}
	var plain bool
	for _, r := range e.iomemNamed("System RAM") {
		if r.Start == d.Addr && r.End == d.Addr+8<<30-1 && !r.DriverManaged {
			plain = true
		}
	}
	if !plain {
		t.Errorf("no plain System RAM for the DIMM at %#x", d.Addr)
	}
	if memmap, kexec := e.inFirmwareMemmap(d.Addr); !memmap || !kexec {
		t.Errorf("pc-dimm memory: /sys/firmware/memmap %v, kexec %v; want both", memmap, kexec)
	}
	e.dmesgHas(t, "memory_hotplug: added", "(System RAM) to node 0: 64 memory blocks")
	if m := e.redfishMemory(t, v, "dimm0"); m["CapacityMiB"] != 8192.0 || m["MemoryDeviceType"] != "Logical" {
		t.Errorf("Redfish dimm0: %v", m)
	}
	e.refusedCtl(t, "not a positive multiple of 128 MiB", "vm", "pc-dimm", "plug", "100M")
	e.refusedCtl(t, "do not fit in the 128 GiB device memory region", "vm", "pc-dimm", "plug", "125G")
	if n := len(vmStatus(t, e)["pc_dimm"].(map[string]any)["dimms"].([]any)); n != 1 {
		t.Errorf("refused plugs left %d DIMMs", n)
	}
	// The hypervisor's settings are acknowledged only once saved: a BMC
	// killed right after the plug boots the guest with the DIMM again.
	dir := e.StateDir
	e.Kill9()
	e = start(t, startOpts{stateDir: dir, args: []string{"--profile", "pc-dimm", "--speed", "1000"}})
	if got := e.memTotalKiB() - total0; got != 8<<20 {
		t.Errorf("after kill -9 and restart MemTotal is +%d kB, want the 8 GiB DIMM", got)
	}
	if m := e.redfishMemory(t, v, "dimm0"); m["CapacityMiB"] != 8192.0 {
		t.Errorf("Redfish dimm0 after restart: %v", m)
	}
	e.mustCtl(t, "vm", "pc-dimm", "unplug", "dimm0")
	if e.memTotalKiB() != total0 {
		t.Error("unplug did not restore MemTotal")
	}
	if memmap, _ := e.inFirmwareMemmap(d.Addr); memmap {
		t.Error("the ejected DIMM is still in /sys/firmware/memmap")
	}
	e.refusedCtl(t, `no device "dimm0"`, "vm", "pc-dimm", "unplug", "dimm0")
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/redfish/v1/Systems/1/Memory/dimm0", nil)
	req.SetBasicAuth(e.User, e.Password)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("Memory/dimm0 after the eject: %d", resp.StatusCode)
		}
	}
}

// The three generations for 64 GiB, from the running guest's geometry.
func TestVMCompareThreeGenerations(t *testing.T) {
	e := start(t, startOpts{args: []string{"--profile", "virtio-mem", "--speed", "1000"}})
	var c struct {
		Generations []struct {
			Mechanism   string
			Granularity uint64
			FreeAtAdd   uint64 `json:"free_at_add"`
			MB          uint64 `json:"memory_blocks"`
			Memmap      uint64 `json:"memmap_bytes"`
		}
	}
	if err := json.Unmarshal([]byte(e.mustCtl(t, "vm", "compare", "64G", "-o", "json")), &c); err != nil {
		t.Fatal(err)
	}
	want := map[string][4]uint64{
		"virtio-balloon": {4 << 10, 0, 1 << 30, 0},
		"pc-dimm (ACPI)": {128 << 20, 512, 1 << 30, 1 << 30},
		"virtio-mem":     {4 << 20, 512, 1 << 30, 2 << 20},
	}
	if len(c.Generations) != 3 {
		t.Fatalf("%+v", c)
	}
	for _, g := range c.Generations {
		if got := [4]uint64{g.Granularity, g.MB, g.Memmap, g.FreeAtAdd}; got != want[g.Mechanism] {
			t.Errorf("%s: granularity, blocks, memmap, free at add = %v, want %v", g.Mechanism, got, want[g.Mechanism])
		}
	}
	table := e.mustCtl(t, "vm", "compare", "64G")
	for _, s := range []string{"MECHANISM", "virtio-balloon", "pc-dimm (ACPI)", "virtio-mem", "System RAM (virtio_mem)"} {
		if !strings.Contains(table, s) {
			t.Errorf("compare table lacks %q:\n%s", s, table)
		}
	}
	e.refusedCtl(t, "not a positive multiple of the 128 MiB memory block", "vm", "compare", "100M")
}

// A fleet member takes a guest profile like any other: the hypervisor's
// commands reach it through the fleet's control listener, and the other
// members are not VMs.
func TestVMGuestFleetMember(t *testing.T) {
	dir := t.TempDir()
	spec := dir + "/fleet.yaml"
	if err := os.WriteFile(spec, []byte(`seed: 7
defaults: {profile: default, user: admin, password: password}
members:
  - {name: vm1, profile: virtio-mem, address: 127.0.63.20}
  - {name: metal, address: 127.0.63.21}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &Emulator{t: t, HTTPPort: freeTCPPort(t), User: "admin", Password: "password", exited: make(chan struct{})}
	e.URL = fmt.Sprintf("http://127.0.0.1:%d", e.HTTPPort)
	e.launch([]string{"serve", "--ephemeral", "--speed", "1000", "--fleet-file", spec, "--log-level", "warn",
		"--control-addr", fmt.Sprintf("127.0.0.1:%d", e.HTTPPort),
		"--member-ipmi-port", fmt.Sprint(freeUDPPort(t)), "--member-https-port", fmt.Sprint(freeTCPPort(t))})
	if out := e.mustCtl(t, "--server-id", "vm1", "vm", "virtio-mem", "set-requested", "1G"); !strings.Contains(out, "plugged-size 1G") {
		t.Fatalf("vm1: %s", out)
	}
	e.refusedCtl(t, "not a VM guest", "--server-id", "metal", "vm", "virtio-mem", "set-requested", "1G")
	out := e.mustCtl(t, "--server-id", "vm1", "iomem")
	if !strings.Contains(out, "System RAM (virtio_mem)") {
		t.Errorf("vm1 iomem lacks System RAM (virtio_mem):\n%s", out)
	}
}

// A user's profile with a 1 GiB virtio-mem block (`bmcemu profile show
// virtio-mem`, edited): the guest's driver runs big block mode, plugs
// and unplugs whole 1 GiB units of eight memory blocks, and refuses a
// size that is no multiple of the block.
func TestVMGuestVirtioMemBigBlocks(t *testing.T) {
	src, err := exec.Command(bmcemuBin, "profile", "show", "virtio-mem").Output()
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), "block_size_mib: 4\n", "block_size_mib: 1024\n", 1)
	if edited == string(src) {
		t.Fatal("the built-in virtio-mem profile has no block_size_mib: 4")
	}
	file := filepath.Join(t.TempDir(), "bbm.yaml")
	if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bmcemuBin, "profile", "check", file).CombinedOutput(); err != nil {
		t.Fatalf("profile check: %v\n%s", err, out)
	}
	e := start(t, startOpts{args: []string{"--profile", file, "--speed", "1000"}})
	total0 := e.memTotalKiB()
	if out := e.mustCtl(t, "vm", "virtio-mem", "set-requested", "3G"); !strings.Contains(out, "plugged-size 3G") {
		t.Fatalf("set-requested 3G: %s", out)
	}
	if got := e.memTotalKiB() - total0; got != 3<<20 {
		t.Errorf("MemTotal grew by %d kB, want 3 GiB", got)
	}
	e.dmesgHas(t, "virtio_mem virtio0: big block size: 0x40000000")
	if out := e.mustCtl(t, "vm"); !strings.Contains(out, "big block mode: 1G units") {
		t.Errorf("ctl vm does not name the mode:\n%s", out)
	}
	vm := vmStatus(t, e)["virtio_mem"].(map[string]any)
	if vm["mode"] != "bbm" || len(vm["added_blocks"].([]any)) != 24 {
		t.Errorf("status: mode %v, %d memory blocks added; want bbm and 24", vm["mode"], len(vm["added_blocks"].([]any)))
	}
	e.refusedCtl(t, "has to be multiples of 'block-size'", "vm", "virtio-mem", "set-requested", "1536M")
	e.mustCtl(t, "vm", "virtio-mem", "set-requested", "1G")
	if got := e.memTotalKiB() - total0; got != 1<<20 {
		t.Errorf("after shrinking to one big block: MemTotal +%d kB, want 1 GiB", got)
	}
	if ram := e.iomemNamed("System RAM (virtio_mem)"); len(ram) != 1 || ram[0].End-ram[0].Start+1 != 1<<30 {
		t.Errorf("after shrinking: %+v", ram)
	}
}
