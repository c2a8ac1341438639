package redfish

import (
	"testing"

	"github.com/bmcemu/bmcemu/platform"
)

// sushyInspectScript reads what Ironic's redfish inspection reads
// (ironic/drivers/modules/redfish/inspect.py): the system, the processor
// summary (logical CPUs, architecture), the memory summary, the Ethernet
// interfaces' summary (MAC -> state, for the ports it enrols) and the disk
// and volume sizes it takes local_gb from: the smallest of at least 4 GiB
// of SimpleStorage's disks and of Storage's volumes, the larger of the
// two, in GiB less one.
const sushyInspectScript = `
import json, sys
import sushy
from sushy import auth
url, user, pw, ca = sys.argv[1:5]
a = auth.SessionAuth(username=user, password=pw)
s = sushy.Sushy(url, auth=a, verify=ca)
system = s.get_system("/redfish/v1/Systems/1")
ps = system.processors.summary
cpu0 = system.processors.get_member("/redfish/v1/Systems/1/Processors/CPU0")
macs = system.ethernet_interfaces.summary
simple = system.simple_storage.disks_sizes_bytes
st = system.storage
volumes = st.volumes_sizes_bytes
def smallest_usable(sizes):
    big = [x for x in sizes if x >= 4 * 1024 ** 3]
    return big[0] if big else 0
local = max(smallest_usable(simple), smallest_usable(volumes))
print(json.dumps({
    "serial": system.serial_number,
    "cpus": ps.count,
    "arch": str(ps.architecture),
    "cpu0_cores": cpu0.total_cores, "cpu0_model": cpu0.model, "cpu0_mhz": cpu0.max_speed_mhz,
    "memory_gib": system.memory_summary.size_gib,
    "macs": {k: str(v) for k, v in macs.items()},
    "simple": simple,
    "volumes": volumes,
    "drives": st.drives_sizes_bytes,
    "local_gb": local // 1024 ** 3 - 1,
}))
a.close()
`

func TestSushyInspection(t *testing.T) {
	p := newPlatform(t)
	_, m := runSushy(t, p, sushyInspectScript)
	snap := p.Snapshot()
	_, _, threads := snap.Hardware.ProcessorTotals()
	if m["serial"] != snap.System.SerialNumber || m["cpus"] != float64(threads) || m["cpus"] != 128.0 ||
		m["arch"] != "ProcessorArchitecture.X86" || m["memory_gib"] != 512.0 {
		t.Errorf("system as sushy saw it: %v", m)
	}
	if m["cpu0_cores"] != 32.0 || m["cpu0_model"] != "Intel(R) Xeon(R) Gold 6448Y" || m["cpu0_mhz"] != 4100.0 {
		t.Errorf("CPU0 as sushy saw it: %v", m)
	}
	// Every port, link up or down, is enrolled by its MAC; the first is
	// the boot MAC inventories carry.
	macs, _ := m["macs"].(map[string]any)
	ports := snap.Hardware.Ports()
	if len(macs) != len(ports) || len(ports) != 4 {
		t.Errorf("MACs %v, ports %d", macs, len(ports))
	}
	for i, pt := range ports {
		if macs[platform.HostPortMAC(snap.System.SerialNumber, i).String()] != "State.ENABLED" {
			t.Errorf("port %s (%s) missing from %v", pt.ID, pt.MAC, macs)
		}
	}
	if macs[platform.HostNICMAC(snap.System.SerialNumber).String()] == nil {
		t.Errorf("the boot MAC %s is not among %v", platform.HostNICMAC(snap.System.SerialNumber), macs)
	}
	// Two 480 GB SSDs and four 2.4 TB disks; a 480 GB RAID1 and a 7.2 TB
	// RAID5: Ironic's local_gb is 480e9 bytes in GiB, less one.
	want := func(v ...float64) []any {
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = x
		}
		return out
	}
	check := func(name string, got any, w []any) {
		g, _ := got.([]any)
		if len(g) != len(w) {
			t.Errorf("%s %v, want %v", name, got, w)
			return
		}
		for i := range g {
			if g[i] != w[i] {
				t.Errorf("%s %v, want %v", name, got, w)
				return
			}
		}
	}
	check("SimpleStorage disks", m["simple"], want(480e9, 480e9, 2400e9, 2400e9, 2400e9, 2400e9))
	check("Storage drives", m["drives"], want(480e9, 480e9, 2400e9, 2400e9, 2400e9, 2400e9))
	check("volumes", m["volumes"], want(480e9, 7200e9))
	if m["local_gb"] != float64(480_000_000_000>>30-1) {
		t.Errorf("local_gb %v, want %d", m["local_gb"], 480_000_000_000>>30-1)
	}
}
