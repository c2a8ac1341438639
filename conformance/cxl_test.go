package conformance

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The CXL memory expander profile driven through `bmcemu ctl cxl` as an
// operator would, observed through the OS views the CLI prints and the
// BMC's SEL and SDR through ipmitool and freeipmi. Its listeners use
// 127.0.73.x.

// startOnHost runs the binary on free ports of host (a loopback address) with
// the HTTPS listener off.
func startOnHost(t *testing.T, host string, args ...string) *Emulator {
	t.Helper()
	tcp, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenPacket("udp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	e := &Emulator{t: t, HTTPPort: tcp.Addr().(*net.TCPAddr).Port, IPMIPort: udp.LocalAddr().(*net.UDPAddr).Port, IPMIHost: host,
		StateDir: t.TempDir(), User: "admin", Password: "password", exited: make(chan struct{})}
	tcp.Close()
	udp.Close()
	e.URL = fmt.Sprintf("http://%s:%d", host, e.HTTPPort)
	e.launch(append([]string{"serve",
		"--redfish-addr", fmt.Sprintf("%s:%d", host, e.HTTPPort),
		"--redfish-tls-addr", "",
		"--ipmi-addr", fmt.Sprintf("%s:%d", host, e.IPMIPort),
		"--state-dir", e.StateDir,
	}, args...))
	return e
}

// completeCtl is the shell completion of a `ctl` command line's last, empty
// word, as the shell scripts ask the binary for it: "name<TAB>description"
// lines, without the required flags cobra offers along.
func (e *Emulator) completeCtl(t *testing.T, args ...string) []string {
	t.Helper()
	base := []string{"__complete", "ctl", "--server", e.URL, "-u", e.User, "-p", e.Password}
	out, err := run(t, 30*time.Second, bmcemuBin, append(append(base, args...), "")...)
	if err != nil {
		t.Fatalf("__complete ctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" && !strings.HasPrefix(l, ":") && !strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "Completion ended") {
			got = append(got, l)
		}
	}
	return got
}

// waitInBandOS waits until the host's OS answers the in-band views.
func (e *Emulator) waitInBandOS(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := e.ctl("cpusets")
		if err == nil && strings.Contains(out, "EFFECTIVE MEMS") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the OS never came up: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ctlMemTotalKiB is MemTotal in kB from `ctl meminfo`.
func ctlMemTotalKiB(t *testing.T, e *Emulator) uint64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^MemTotal:\s+(\d+) kB$`).FindStringSubmatch(e.mustCtl(t, "meminfo"))
	if m == nil {
		t.Fatal("ctl meminfo has no MemTotal")
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return n
}

// cxlSEL are the CXL sensors' `sel elist` rows, once the BMC has logged
// n of them (it logs platform events asynchronously).
func (e *Emulator) cxlSEL(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var rows []string
		for _, r := range selRows(e.mustIPMI("sel", "elist")) {
			if strings.Contains(r, "CXL") {
				rows = append(rows, r)
			}
		}
		if len(rows) >= n || time.Now().After(deadline) {
			return rows
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type cxlJSON struct {
	Windows []struct {
		Label string `json:"label"`
		Size  uint64 `json:"size"`
		Used  []struct {
			Owner string `json:"owner"`
			Size  uint64 `json:"size"`
		} `json:"used"`
	} `json:"windows"`
	Slots []struct {
		Slot   string `json:"slot"`
		State  string `json:"state"`
		Power  bool   `json:"power"`
		Reason string `json:"reason"`
		Device *struct {
			Memdev string `json:"memdev"`
			Spec   struct {
				Capacity uint64 `json:"capacity"`
				Trusted  bool   `json:"trusted"`
			} `json:"spec"`
			Region *struct {
				Name        string `json:"name"`
				Node        int    `json:"node"`
				Size        uint64 `json:"size"`
				OnlineBytes uint64 `json:"online_bytes"`
			} `json:"region"`
		} `json:"device"`
	} `json:"slots"`
}

func TestCXLThroughCtl(t *testing.T) {
	e := startOnHost(t, "127.0.73.3", "--profile", "cxl", "--speed", "1000")
	e.waitInBandOS(t)

	help := e.mustCtl(t, "cxl", "--help")
	for _, want := range []string{"insert", "attention", "pull", "cdat", "dma", "bmcemu ctl cxl dma transfer CXL1", "bmcemu ctl cxl insert CXL1 --capacity 256G"} {
		if !strings.Contains(help, want) {
			t.Errorf("ctl cxl --help lacks %q:\n%s", want, help)
		}
	}
	// The slot after the subcommand, not before: a misplaced slot is an
	// error, not the help with exit status 0.
	e.refusedCtl(t, `unknown command "CXL1"`, "cxl", "dma", "CXL1", "transfer")

	if out := e.mustCtl(t, "cxl"); !regexp.MustCompile(`CXL Window 0\s+0x24000000000-0x43fffffffff\s+2048 GiB\s+ACPI0016:00\s+2\s+2048 GiB\s+-`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^CXL1\s+0000:30:00\.0\s+64 MiB\s+empty\s+off`).MatchString(out) {
		t.Errorf("ctl cxl before any card:\n%s", out)
	}
	total0 := ctlMemTotalKiB(t, e)
	if got := e.completeCtl(t, "cxl", "insert"); strings.Join(got, "|") != "CXL1\tempty|CXL2\tempty|CXL3\tempty" {
		t.Errorf("completion of ctl cxl insert: %q", got)
	}

	// Hot-add into CXL1: seated (off), then the attention button.
	if out := e.mustCtl(t, "cxl", "insert", "CXL1", "--capacity", "256G"); !regexp.MustCompile(`(?m)^CXL1\s+0000:30:00\.0\s+64 MiB\s+present\s+off\s+0000:31:00\.0 8086:0d93 256 GiB`).MatchString(out) {
		t.Errorf("ctl cxl insert:\n%s", out)
	}
	if out := e.mustCtl(t, "cxl", "attention", "CXL1"); !strings.Contains(out, "CXL1: mem0 up: region0 [0x24000000000+256 GiB] on node 2, 256 GiB online as System RAM (kmem)") {
		t.Errorf("ctl cxl attention:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"cxl", "insert"}, "CXL2\tempty|CXL3\tempty"},
		{[]string{"cxl", "attention"}, "CXL1\tenabled, 256 GiB expander"},
		{[]string{"cxl", "pull"}, "CXL1\tenabled, 256 GiB expander"},
		{[]string{"cxl", "cdat"}, "CXL1\tenabled, 256 GiB expander"},
		{[]string{"cxl", "dma", "transfer"}, "CXL1\tenabled, 256 GiB expander"},
		{[]string{"cxl", "dma", "access"}, "CXL1\tenabled, 256 GiB expander"},
	} {
		if got := e.completeCtl(t, tc.args...); strings.Join(got, "|") != tc.want {
			t.Errorf("completion of ctl %s: %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}
	var st cxlJSON
	if err := json.Unmarshal([]byte(e.mustCtl(t, "cxl", "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if s := st.Slots[0]; s.Slot != "CXL1" || s.State != "enabled" || !s.Power || s.Device == nil || s.Device.Memdev != "mem0" ||
		s.Device.Region == nil || s.Device.Region.Node != 2 || s.Device.Region.OnlineBytes != 256<<30 {
		t.Errorf("ctl cxl -o json CXL1: %+v", s)
	}
	if w := st.Windows[0]; w.Label != "CXL Window 0" || len(w.Used) != 1 || w.Used[0].Owner != "region0" || w.Used[0].Size != 256<<30 {
		t.Errorf("ctl cxl -o json window 0: %+v", w)
	}
	if out := e.mustCtl(t, "cxl"); !regexp.MustCompile(`(?m)^CXL1 .*enabled\s+on\s+.*mem0\s+region0 dax0\.0 \[0x24000000000\+256 GiB\]\s+2\s+256 GiB\s+false$`).MatchString(out) {
		t.Errorf("ctl cxl after attention:\n%s", out)
	}
	// MemTotal grows by the whole region.
	if got, want := ctlMemTotalKiB(t, e)-total0, uint64(256<<20); got != want {
		t.Errorf("MemTotal grew by %d kB, want %d", got, want)
	}
	iomem := e.mustCtl(t, "iomem")
	if !regexp.MustCompile(`(?m)^24000000000-43fffffffff : CXL Window 0\n  24000000000-27fffffffff : region0\n    24000000000-27fffffffff : dax0\.0\n      24000000000-27fffffffff : System RAM \(kmem\)$`).MatchString(iomem) {
		t.Errorf("ctl iomem lacks the kmem memory under CXL Window 0:\n%s", iomem)
	}
	if out := e.mustCtl(t, "cpusets"); !regexp.MustCompile(`(?m)^/\s+0-127\s+0-2\s+0-127\s+0-2\b`).MatchString(out) {
		t.Errorf("ctl cpusets does not offer node 2:\n%s", out)
	}

	// The two refusals, each named after what firmware did not reserve.
	e.mustCtl(t, "cxl", "insert", "CXL2", "--capacity", "64G")
	e.refusedCtl(t, "no CXL Fixed Memory Window (CEDT CFMWS) targets host bridge ACPI0016:01", "cxl", "attention", "CXL2")
	e.mustCtl(t, "cxl", "insert", "CXL3", "--capacity", "64G")
	e.refusedCtl(t, "has 0 KiB of memory window for hot-plugged devices and BAR 0 needs 2048 KiB", "cxl", "attention", "CXL3")
	e.dmesgHas(t, "pci 0000:51:00.0: BAR 0 [mem size ", "64bit]: can't assign; no space", "no CXL window targets host bridge ACPI0016:01, memory not mapped")

	// The tables firmware and the card describe the memory with.
	if out := e.mustCtl(t, "cxl", "cdat", "CXL1"); !strings.Contains(out, "[Device Scoped Memory Affinity Structure]") ||
		!regexp.MustCompile(`DPA Address Length : 0000004000000000`).MatchString(out) || !strings.Contains(out, "[Read Latency]") {
		t.Errorf("ctl cxl cdat CXL1:\n%s", out)
	}
	if out := e.mustCtl(t, "acpi", "cedt"); strings.Count(out, "[CXL Host Bridge Structure]") != 3 ||
		strings.Count(out, "[CXL Fixed Memory Window Structure]") != 2 || !strings.Contains(out, "Window size : 0000020000000000") {
		t.Errorf("ctl acpi cedt:\n%s", out)
	}

	// DMA: an untrusted card's driver transfer bounces, exposing nothing;
	// the device's own write to an IOVA it was not given is blocked.
	if out := e.mustCtl(t, "cxl", "dma", "transfer", "CXL1"); !strings.Contains(out, "untrusted=true bounced=true") ||
		!strings.Contains(out, "0 of them other kernel data") || !strings.Contains(out, "data verified after unmap: true") {
		t.Errorf("ctl cxl dma transfer:\n%s", out)
	}
	e.refusedCtl(t, "DMA write to 0x1000 blocked", "cxl", "dma", "access", "CXL1", "--iova", "0x1000", "--write")
	e.dmesgHas(t, "DMAR: [DMA Write NO_PASID] Request device [31:00.0] fault addr 0x1000 [fault reason 0x05] PTE Write access is not set")

	// Orderly removal: a button press offlines, tears down, powers off.
	if out := e.mustCtl(t, "cxl", "attention", "CXL1"); !strings.Contains(out, "CXL1: mem0 removed: region0 [0x24000000000+256 GiB] offlined and torn down, slot off (0 pages poisoned)") {
		t.Errorf("orderly removal:\n%s", out)
	}
	if out := e.mustCtl(t, "iomem"); strings.Contains(out, "System RAM (kmem)") || strings.Contains(out, "region0") {
		t.Errorf("ctl iomem after the removal:\n%s", out)
	}
	if got := ctlMemTotalKiB(t, e); got != total0 {
		t.Errorf("MemTotal %d kB after the removal, want %d", got, total0)
	}
	if out := e.mustCtl(t, "cxl", "pull", "CXL1"); !strings.Contains(out, "CXL1: done") {
		t.Errorf("pull from an unpowered slot:\n%s", out)
	}

	// Surprise removal with a task's memory on the expander's node.
	e.mustCtl(t, "cxl", "insert", "CXL1", "--capacity", "16G")
	e.mustCtl(t, "cxl", "attention", "CXL1")
	e.mustCtl(t, "cpusets", "create", "cxl", "--cpus", "0-3", "--mems", "2")
	if out := e.mustCtl(t, "tasks", "run", "app", "--cpuset", "cxl", "--mib", "64"); !strings.Contains(out, "N2=64MiB") {
		t.Fatalf("the task's memory is not on node 2:\n%s", out)
	}
	// The task's memory is lost allocation by allocation (each a
	// machine check and memory_failure()), and it faults back in on
	// another node.
	out := e.mustCtl(t, "cxl", "pull", "CXL1")
	if m := regexp.MustCompile(`CXL1: mem2 removed: region1 \[0x[0-9a-f]+\+16 GiB\] offlined and torn down, slot off \((\d+) pages poisoned\)`).FindStringSubmatch(out); m == nil || m[1] == "0" {
		t.Errorf("surprise removal, want the task's pages poisoned:\n%s", out)
	}
	e.dmesgHas(t, "Memory failure: ", "recovery action for dirty LRU page: Recovered", "memory_hotplug: node 2 offline: no memory left")
	if out := e.mustCtl(t, "tasks"); !regexp.MustCompile(`(?m)^1\s+app\s+cxl\s+.*N0=64MiB$`).MatchString(out) {
		t.Errorf("ctl tasks after the surprise removal:\n%s", out)
	}

	// Kernel memory on the node (a hardwalled cpuset confines it there)
	// cannot be offlined: the button press is refused and changes
	// nothing; with the memory freed the removal goes through.
	e.mustCtl(t, "cxl", "insert", "CXL1", "--capacity", "16G", "--online", "online_kernel")
	e.mustCtl(t, "cxl", "attention", "CXL1")
	e.mustCtl(t, "cpusets", "create", "kern", "--cpus", "4-7", "--mems", "2", "--mem-hardwall")
	if out := e.mustCtl(t, "tasks", "run", "kthread", "--cpuset", "kern", "--mib", "16", "--kernel-pages"); !regexp.MustCompile(`(?m)^2\s+kthread\s+kern\s+.*N2=16MiB$`).MatchString(out) {
		t.Fatalf("the kernel pages are not on node 2:\n%s", out)
	}
	e.refusedCtl(t, "failed due to unmovable page (-EBUSY)", "cxl", "attention", "CXL1")
	e.dmesgHas(t, "pciehp: Slot(1): Button press cancelled: dax2.0 could not be offlined; the slot stays powered")
	if out := e.mustCtl(t, "cxl"); !regexp.MustCompile(`(?m)^CXL1 .*enabled\s+on\s+.*region2 dax2\.0 \[0x24000000000\+16 GiB\]\s+2\s+16 GiB`).MatchString(out) {
		t.Errorf("a refused removal changed the slot:\n%s", out)
	}
	e.mustCtl(t, "tasks", "kill", "2")
	e.mustCtl(t, "cxl", "attention", "CXL1")

	// The BMC's view, in order: each lasting change once, the refusals'
	// faults, the removals, and the surprise's lost data and fault.
	const (
		slot1 = "Slot / Connector CXL1 Slot | "
		mem1  = "Memory CXL1 Mem | "
	)
	want := []string{
		slot1 + "Device Installed | Asserted",
		slot1 + "Slot Power is Off | Deasserted",
		mem1 + "Presence Detected | Asserted",
		"Slot / Connector CXL2 Slot | Device Installed | Asserted",
		"Slot / Connector CXL2 Slot | Slot Power is Off | Deasserted",
		"Slot / Connector CXL2 Slot | Fault Status | Asserted",
		"Slot / Connector CXL3 Slot | Device Installed | Asserted",
		"Slot / Connector CXL3 Slot | Slot Power is Off | Deasserted",
		"Slot / Connector CXL3 Slot | Fault Status | Asserted",
		mem1 + "Presence Detected | Deasserted",
		slot1 + "Slot Power is Off | Asserted",
		slot1 + "Device Installed | Deasserted",
		slot1 + "Device Installed | Asserted",
		slot1 + "Slot Power is Off | Deasserted",
		mem1 + "Presence Detected | Asserted",
		mem1 + "Uncorrectable ECC | Asserted",
		slot1 + "Fault Status | Asserted",
		mem1 + "Presence Detected | Deasserted",
		slot1 + "Slot Power is Off | Asserted",
		slot1 + "Device Installed | Deasserted",
		slot1 + "Device Installed | Asserted",
		slot1 + "Slot Power is Off | Deasserted",
		mem1 + "Presence Detected | Asserted",
		slot1 + "Device Removal Request | Asserted",
		mem1 + "Presence Detected | Deasserted",
		slot1 + "Slot Power is Off | Asserted",
	}
	if got := e.cxlSEL(t, len(want)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sel elist (CXL rows):\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	sdr := sdrRows(e.mustIPMI("sdr", "elist"))
	for name, want := range map[string]string{
		"CXL1 Mem":  "[21h ok 32.33 ]",
		"CXL2 Mem":  "[22h ok 32.34 ]",
		"CXL1 Slot": "[80h ok 11.3 Device Installed, Slot Power is Off]",
		"CXL2 Slot": "[81h ok 11.4 Fault Status, Device Installed]",
		"CXL3 Slot": "[82h ok 11.5 Fault Status, Device Installed]",
	} {
		if got := fmt.Sprint(sdr[name]); got != want {
			t.Errorf("sdr elist %s = %s, want %s", name, got, want)
		}
	}

	// freeipmi decodes the same records: slot type and number, the UE's
	// OEM data.
	selBin := needTool(t, "ipmi-sel")
	host := fmt.Sprintf("%s:%d", e.IPMIHost, e.IPMIPort)
	fi, err := run(t, 60*time.Second, selBin, "-D", "LAN_2_0", "-h", host, "-u", e.User, "-p", e.Password, "-l", "ADMIN",
		"--session-timeout=5000", "--retransmission-timeout=1000", "--sdr-cache-directory="+t.TempDir(), "--comma-separated-output", "--no-header-output")
	if err != nil {
		t.Fatalf("ipmi-sel: %v\n%s", err, fi)
	}
	for _, want := range []string{
		"CXL1 Slot,Slot/Connector,Slot/Connector Device installed/attached ; Slot/Connector Type = PCI Express ; Slot/Connector #1",
		"CXL2 Slot,Slot/Connector,Fault Status asserted ; Slot/Connector Type = PCI Express ; Slot/Connector #2",
		"CXL1 Mem,Memory,Presence detected ; Event Data3 = 20h",
		"CXL1 Mem,Memory,Uncorrectable memory error ; OEM Event Data2 code = 02h ; Event Data3 = 20h",
	} {
		if !strings.Contains(fi, want) {
			t.Errorf("ipmi-sel lacks %q:\n%s", want, fi)
		}
	}
}
