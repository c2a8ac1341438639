package conformance

import (
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/conformance/schemacheck"
	"github.com/bmcemu/bmcemu/platform/control"
)

// The CXL expander tests bind 127.0.72.x, their own part of loopback.
const (
	cxlCrawlHost  = "127.0.72.11"
	cxlClientHost = "127.0.72.12"
)

const (
	cxlDevURI = "/redfish/v1/Chassis/1/PCIeDevices/"
	cxlMemURI = "/redfish/v1/Systems/1/Memory/"
)

// startCXL runs the binary on the cxl profile with an expander brought up
// in CXL1 and one refused in CXL2 (its host bridge has no CXL Fixed Memory
// Window), both through the control API as an operator would.
func startCXL(t *testing.T, host string) *Emulator {
	t.Helper()
	e := start(t, startOpts{host: host, args: []string{"--profile", "cxl", "--speed", "1000"}})
	e.waitHost("running its OS", func(h control.Host) bool { return h.OSRunning })
	for _, args := range [][]string{
		{"cxl", "insert", "CXL1", "--capacity", "256G", "--serial", "12648430"},
		{"cxl", "attention", "CXL1"},
		{"cxl", "insert", "CXL2", "--capacity", "64G", "--serial", "2"},
	} {
		if out, err := e.ctl(args...); err != nil {
			t.Fatalf("ctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if out, err := e.ctl("cxl", "attention", "CXL2"); err == nil || !strings.Contains(out, "CFMWS") {
		t.Fatalf("ctl cxl attention CXL2 should be refused for want of a window: %v\n%s", err, out)
	}
	return e
}

// TestCXLSchemaCrawlLive crawls everything a cxl-profile server serves
// with an expander enabled in CXL1 and one refused in CXL2, validating
// every payload against DSP8010, and checks the crawl saw both.
func TestCXLSchemaCrawlLive(t *testing.T) {
	v := schemacheck.NewForTest(t)
	e := startCXL(t, cxlCrawlHost)
	got := e.login(t).crawl(t, v, "cxl")
	for _, uri := range []string{
		cxlDevURI + "CXL1", cxlDevURI + "CXL1/PCIeFunctions/0", cxlDevURI + "CXL1/CXLLogicalDevices/LD0",
		cxlDevURI + "CXL1/CXLLogicalDevices/LD0/MemoryRegions/region0", cxlDevURI + "CXL2", cxlMemURI + "CXL1", cxlMemURI + "CXL2",
	} {
		if got[uri] == nil {
			t.Errorf("the crawl never reached %s", uri)
		}
	}
	if s := str(got[cxlDevURI+"CXL1"], "Status", "State"); s != "Enabled" {
		t.Errorf("CXL1 PCIeDevice State %q, want Enabled", s)
	}
	if s := str(got[cxlMemURI+"CXL1"], "Status", "State"); s != "Enabled" {
		t.Errorf("CXL1 Memory State %q, want Enabled", s)
	}
	if h := str(got[cxlDevURI+"CXL2"], "Status", "Health"); h != "Warning" {
		t.Errorf("CXL2 PCIeDevice Health %q, want Warning", h)
	}
	if s := str(got[cxlMemURI+"CXL2"], "Status", "State"); s != "UnavailableOffline" {
		t.Errorf("CXL2 Memory State %q, want UnavailableOffline", s)
	}
	if _, ok := got[cxlDevURI+"CXL3"]; ok {
		t.Error("an empty slot is a PCIe device")
	}
}

// sushy (Debian's python3-sushy, whose 4.x has no PCIe or Memory classes
// of its own) reads the expander with resource classes declared on its
// base, as a sushy OEM extension or Ironic driver would: the PCIe device,
// its function, and the Memory member. redfishtool's inventory walks the
// Memory collection, expander included.
func TestCXLRedfishClients(t *testing.T) {
	e := startCXL(t, cxlClientHost)
	m := e.sushy(`
from sushy.resources import base, common
class PCIeInterface(base.CompositeField):
    pcie_type = base.Field("PCIeType")
    lanes_in_use = base.Field("LanesInUse", adapter=int)
class CXLDevice(base.CompositeField):
    device_type = base.Field("DeviceType")
class PCIeDevice(base.ResourceBase):
    identity = base.Field("Id", required=True)
    manufacturer = base.Field("Manufacturer")
    serial_number = base.Field("SerialNumber")
    status = common.StatusField("Status")
    interface = PCIeInterface("PCIeInterface")
    cxl = CXLDevice("CXLDevice")
    slot_label = base.Field(["Slot", "Location", "PartLocation", "ServiceLabel"])
    functions = base.Field(["Links", "PCIeFunctions"], adapter=lambda l: [x["@odata.id"] for x in l])
    conditions = base.Field(["Status", "Conditions"], adapter=lambda l: [c["MessageId"] for c in l])
class PCIeFunction(base.ResourceBase):
    class_code = base.Field("ClassCode")
    vendor_id = base.Field("VendorId")
    device_class = base.Field("DeviceClass")
class Memory(base.ResourceBase):
    identity = base.Field("Id", required=True)
    capacity_mib = base.Field("CapacityMiB", adapter=int)
    memory_type = base.Field("MemoryType")
    status = common.StatusField("Status")
    regions = base.Field(["Links", "MemoryRegionMediaSources"], adapter=lambda l: [x["@odata.id"] for x in l])
chassis = s.get_chassis("/redfish/v1/Chassis/1")
devs = chassis.json["PCIeDevices"]["@odata.id"]
out = {"system_devices": [x["@odata.id"] for x in system.json.get("PCIeDevices", [])]}
for slot in ("CXL1", "CXL2"):
    d = PCIeDevice(s._conn, devs + "/" + slot, redfish_version=s.redfish_version)
    f = PCIeFunction(s._conn, d.functions[0], redfish_version=s.redfish_version)
    mem = Memory(s._conn, system.json["Memory"]["@odata.id"] + "/" + slot, redfish_version=s.redfish_version)
    v = lambda e: e.value if e is not None else None
    out[slot] = {"state": v(d.status.state), "health": v(d.status.health), "manufacturer": d.manufacturer,
        "serial": d.serial_number, "gen": d.interface.pcie_type, "lanes": str(d.interface.lanes_in_use), "cxl": d.cxl.device_type,
        "label": d.slot_label, "conditions": d.conditions or [], "class": f.class_code, "vendor": f.vendor_id,
        "device_class": f.device_class, "mem_state": v(mem.status.state), "mem_mib": str(mem.capacity_mib),
        "mem_type": mem.memory_type, "regions": mem.regions or []}
print(json.dumps(out))
`)
	if sd, _ := m["system_devices"].([]any); len(sd) != 2 {
		t.Errorf("system PCIeDevices %v, want CXL1 and CXL2", m["system_devices"])
	}
	c1, _ := m["CXL1"].(map[string]any)
	c2, _ := m["CXL2"].(map[string]any)
	if c1 == nil || c2 == nil {
		t.Fatalf("sushy read %v", m)
	}
	for k, want := range map[string]string{"state": "Enabled", "health": "OK", "manufacturer": "Intel Corporation",
		"serial": "00-00-00-00-00-c0-ff-ee", "gen": "Gen5", "lanes": "16", "cxl": "Type3", "label": "CXL1",
		"class": "0x050210", "vendor": "0x8086", "device_class": "MemoryController", "mem_state": "Enabled",
		"mem_mib": "262144", "mem_type": "DRAM"} {
		if got := c1[k]; got != want {
			t.Errorf("CXL1 %s = %v, want %s", k, got, want)
		}
	}
	if r, _ := c1["regions"].([]any); len(r) != 1 || !strings.HasSuffix(r[0].(string), "/MemoryRegions/region0") {
		t.Errorf("CXL1 Memory regions %v", c1["regions"])
	}
	if cond, _ := c2["conditions"].([]any); len(cond) != 1 || cond[0] != "BmcemuCXL.1.0.0.ExpanderRefused" {
		t.Errorf("CXL2 conditions %v", c2["conditions"])
	}
	if c2["mem_state"] != "UnavailableOffline" || c2["health"] != "Warning" {
		t.Errorf("CXL2 memory state %v, device health %v", c2["mem_state"], c2["health"])
	}

	out, err := e.redfishtool("Systems", "-I", "1", "Inventory")
	if err != nil {
		t.Fatalf("redfishtool Systems Inventory: %v\n%s", err, out)
	}
	var cxl1, cxl2 string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "CXL1":
			cxl1 = strings.Join(f, " ")
		case len(f) > 0 && f[0] == "CXL2":
			cxl2 = strings.Join(f, " ")
		}
	}
	if cxl1 != "CXL1 | Enabled | OK" || cxl2 != "CXL2 | UnavailableOffline | Warning" {
		t.Errorf("redfishtool inventory: CXL1 %q, CXL2 %q\n%s", cxl1, cxl2, out)
	}
	out, err = e.redfishtool("raw", "GET", cxlDevURI+"CXL2")
	if err != nil || !strings.Contains(out, "ExpanderRefused") || !strings.Contains(out, "CFMWS") {
		t.Errorf("redfishtool raw GET CXL2: %v\n%s", err, out)
	}
}
