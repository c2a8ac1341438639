package conformance

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// The hardware inventory through the clients provisioning tools use:
// Ansible's redfish_info, one invocation per category (Systems, Chassis,
// Manager, Update) and ClearLogs through redfish_command, and ipmitool's
// FRU, SDR and LAN views. Every value is held to the default profile's
// hardware (and the serial-derived MACs and part serials), and what both
// protocols show of one part must agree.
func TestHardwareInventoryClients(t *testing.T) {
	e := start(t, startOpts{})
	prof := profile.Default()
	serial := prof.System.SerialNumber

	// Something for the BMC's audit log: a session login and a change.
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/redfish/v1/SessionService/Sessions",
		strings.NewReader(fmt.Sprintf(`{"UserName":%q,"Password":%q}`, e.User, e.Password)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("log in: %v %v", resp, err)
	}
	resp.Body.Close()
	if code := e.send(http.MethodPatch, "/redfish/v1/Chassis/1", `{"IndicatorLED":"Lit"}`); code != http.StatusOK {
		t.Fatalf("PATCH Chassis: %d", code)
	}

	// Systems.
	sys := facts(t, e.mustAnsible("redfish_info", "category=Systems",
		"command=GetSystemInventory,GetCpuInventory,GetMemoryInventory,GetNicInventory,GetStorageControllerInventory,GetDiskInventory,GetVolumeInventory"))
	inv := perSystem(t, sys, "system").(map[string]any)
	if prop(inv, "ProcessorSummary", "Count") != 2.0 || prop(inv, "ProcessorSummary", "LogicalProcessorCount") != 128.0 ||
		prop(inv, "MemorySummary", "TotalSystemMemoryGiB") != 512.0 || inv["SerialNumber"] != serial {
		t.Errorf("GetSystemInventory %v", inv)
	}
	cpus := perSystem(t, sys, "cpu").([]any)
	if len(cpus) != 2 {
		t.Fatalf("GetCpuInventory %v", cpus)
	}
	for i, c := range cpus {
		c := c.(map[string]any)
		if c["Id"] != fmt.Sprintf("CPU%d", i) || c["Model"] != prof.Processors[i].Model || c["TotalCores"] != 32.0 ||
			c["TotalThreads"] != 64.0 || c["MaxSpeedMHz"] != 4100.0 || str(c, "Status", "State") != "Enabled" {
			t.Errorf("GetCpuInventory entry %v", c)
		}
	}
	if mem := perSystem(t, sys, "memory").([]any); len(mem) != 16 {
		t.Errorf("GetMemoryInventory: %d modules, want 16", len(mem))
	}
	nics := perSystem(t, sys, "nic").([]any)
	wantNICs := []struct {
		id    string
		speed any
	}{{"LOM-1", 1000.0}, {"LOM-2", nil}, {"NIC1-1", 25000.0}, {"NIC1-2", 25000.0}}
	if len(nics) != len(wantNICs) {
		t.Fatalf("GetNicInventory %v", nics)
	}
	for i, n := range nics {
		n := n.(map[string]any)
		if n["Id"] != wantNICs[i].id || n["MACAddress"] != platform.HostPortMAC(serial, i).String() || n["SpeedMbps"] != wantNICs[i].speed {
			t.Errorf("GetNicInventory entry %d: %v", i, n)
		}
	}
	if nics[0].(map[string]any)["MACAddress"] != platform.HostNICMAC(serial).String() {
		t.Errorf("the first port is not the boot MAC %s", platform.HostNICMAC(serial))
	}
	ctls := perSystem(t, sys, "storage_controller").([]any)
	if len(ctls) != 1 || prop(ctls[0].(map[string]any), "Model") != "MegaRAID 9560-16i" ||
		prop(ctls[0].(map[string]any), "FirmwareVersion") != "52.26.0-5179" || prop(ctls[0].(map[string]any), "SerialNumber") != platform.PartSerial("storage", serial, "RAID1") {
		t.Errorf("GetStorageControllerInventory %v", ctls)
	}
	disks := perSystem(t, sys, "disk").([]any)
	if len(disks) != 1 || prop(disks[0].(map[string]any), "Controller") != "RAID1 MegaRAID 9560-16i" {
		t.Fatalf("GetDiskInventory %v", disks)
	}
	drives := disks[0].(map[string]any)["Drives"].([]any)
	if len(drives) != 6 {
		t.Fatalf("GetDiskInventory drives %v", drives)
	}
	for i, d := range drives {
		d := d.(map[string]any)
		media, bytes := "SSD", 480e9
		if i >= 2 {
			media, bytes = "HDD", 2400e9
		}
		if d["Id"] != fmt.Sprintf("Disk%d", i) || d["MediaType"] != media || d["CapacityBytes"] != bytes ||
			d["SerialNumber"] != platform.PartSerial("drive", serial, fmt.Sprintf("RAID1/Disk%d", i)) {
			t.Errorf("GetDiskInventory drive %d: %v", i, d)
		}
	}
	vols := perSystem(t, sys, "volume").([]any)
	if len(vols) != 1 {
		t.Fatalf("GetVolumeInventory %v", vols)
	}
	volumes := vols[0].(map[string]any)["Volumes"].([]any)
	if len(volumes) != 2 {
		t.Fatalf("GetVolumeInventory volumes %v", volumes)
	}
	for i, w := range []struct {
		raid   string
		bytes  float64
		drives string
	}{{"RAID1", 480e9, "Disk0 Disk1"}, {"RAID5", 7200e9, "Disk2 Disk3 Disk4 Disk5"}} {
		v := volumes[i].(map[string]any)
		var ids []string
		for _, l := range v["Linked_drives"].([]any) {
			ids = append(ids, l.(map[string]any)["Id"].(string))
		}
		if v["RAIDType"] != w.raid || v["CapacityBytes"] != w.bytes || strings.Join(ids, " ") != w.drives {
			t.Errorf("GetVolumeInventory volume %d: %v", i, v)
		}
	}

	// Chassis.
	ch := facts(t, e.mustAnsible("redfish_info", "category=Chassis",
		"command=GetChassisInventory,GetChassisPower,GetChassisThermals,GetFanInventory,GetPsuInventory"))
	chassis := entries(t, ch, "chassis")
	if len(chassis) != 1 || prop(chassis[0].(map[string]any), "SerialNumber") != serial || prop(chassis[0].(map[string]any), "IndicatorLED") != "Lit" {
		t.Errorf("GetChassisInventory %v", chassis)
	}
	power := entries(t, ch, "chassis_power")
	pc, _ := power[0].(map[string]any)
	if consumed := num(pc, "PowerConsumedWatts"); len(power) != 1 || pc["PowerCapacityWatts"] != 1100.0 || consumed <= 0 || consumed > 1100 {
		t.Errorf("GetChassisPower %v", power)
	}
	temps := map[string]float64{}
	for _, s := range entries(t, ch, "thermals") {
		temps[str(s.(map[string]any), "Name")] = num(s.(map[string]any), "ReadingCelsius")
	}
	if len(temps) != 1+2+16 || temps["Inlet Temp"] != platform.AmbientC || temps["CPU0 Temp"] <= platform.AmbientC ||
		temps["CPU1 Temp"] >= platform.CPUWarningC {
		t.Errorf("GetChassisThermals %v", temps)
	}
	fans := map[string]float64{}
	for _, f := range entries(t, ch, "fan") {
		f := f.(map[string]any)
		if f["ReadingUnits"] != "RPM" || str(f, "Status", "State") != "Enabled" {
			t.Errorf("GetFanInventory entry %v", f)
		}
		fans[str(f, "Name")] = num(f, "Reading")
	}
	if len(fans) != 6 || fans["FAN1"] < float64(prof.Fans.MinRPM) || fans["FAN6"] > float64(prof.Fans.MaxRPM) {
		t.Errorf("GetFanInventory %v", fans)
	}
	psus := entries(t, ch, "psu")
	if len(psus) != 2 {
		t.Fatalf("GetPsuInventory %v", psus)
	}
	for i, p := range psus {
		p := p.(map[string]any)
		id := fmt.Sprintf("PSU%d", i+1)
		if p["Name"] != id || p["Model"] != "PWS-1K11A-1R" || p["PowerCapacityWatts"] != 1100.0 || p["FirmwareVersion"] != "1.2.0" ||
			p["PowerSupplyType"] != "AC" || p["SerialNumber"] != platform.PartSerial("psu", serial, id) {
			t.Errorf("GetPsuInventory entry %v", p)
		}
	}

	// The same parts over IPMI: each processor temperature and fan speed
	// reads what Redfish reported (no load changed in between), and the
	// processors' and NICs' FRUs name the same parts.
	for _, r := range table(e.mustIPMI("sdr", "elist")) {
		switch {
		case strings.HasSuffix(r[0], "_TEMP") && len(r[0]) == len("CPU0_TEMP"):
			if want := fmt.Sprintf("%.0f degrees C", temps[strings.TrimSuffix(r[0], "_TEMP")+" Temp"]); r[4] != want {
				t.Errorf("sdr elist %q, Redfish %s", r, want)
			}
			delete(temps, strings.TrimSuffix(r[0], "_TEMP")+" Temp")
		case strings.HasPrefix(r[0], "FAN"):
			if want := fmt.Sprintf("%.0f RPM", fans[r[0]]); r[4] != want || r[2] != "ok" {
				t.Errorf("sdr elist %q, Redfish %s", r, want)
			}
			delete(fans, r[0])
		}
	}
	if len(fans) != 0 || temps["CPU0 Temp"] != 0 || temps["CPU1 Temp"] != 0 {
		t.Errorf("sdr elist lacks fans %v or processor temperatures", fans)
	}
	frus := fruBlocks(e.mustIPMI("fru", "print"))
	for i := range 2 {
		id := fmt.Sprintf("CPU%d", i)
		if b := frus[id]; b["Board Product"] != prof.Processors[i].Model || b["Board Serial"] != platform.PartSerial("cpu", serial, id) ||
			b["Product Version"] != prof.Processors[i].Microcode {
			t.Errorf("fru print %s: %v", id, b)
		}
	}
	for i, n := range []string{"LOM", "NIC1"} {
		b := frus["NIC "+n]
		if b["Board Product"] != prof.NICs[i].Model || b["Product Version"] != prof.NICs[i].FirmwareVersion ||
			!strings.Contains(b["Board Extra"], "MAC 1: "+strings.ToUpper(platform.HostPortMAC(serial, 2*i).String())) {
			t.Errorf("fru print NIC %s: %v", n, b)
		}
	}

	// Manager: its port (the one IPMI's LAN channel reports), network
	// protocols and log.
	mgr := facts(t, e.mustAnsible("redfish_info", "category=Manager", "command=GetManagerNicInventory,GetNetworkProtocols,GetLogs"))
	mnics := perSystem(t, mgr, "manager_nics").([]any)
	mnic, _ := mnics[0].(map[string]any)
	bmcMAC := platform.BMCMAC(serial).String()
	if len(mnics) != 1 || mnic["MACAddress"] != bmcMAC || prop(mnic, "IPv4Addresses").([]any)[0].(map[string]any)["Address"] != e.IPMIHost {
		t.Errorf("GetManagerNicInventory %v", mnics)
	}
	lan := kv(e.mustIPMI("lan", "print", "1"))
	if lan["MAC Address"] != bmcMAC || lan["IP Address"] != e.IPMIHost {
		t.Errorf("lan print MAC %q IP %q, Redfish %s %s", lan["MAC Address"], lan["IP Address"], bmcMAC, e.IPMIHost)
	}
	np, _ := mgr["network_protocols"].(map[string]any)["entries"].(map[string]any)
	if prop(np, "IPMI", "Port") != float64(e.IPMIPort) || prop(np, "HTTPS", "Port") != float64(e.TLSPort) ||
		prop(np, "HTTP", "Port") != float64(e.HTTPPort) || prop(np, "SSH", "ProtocolEnabled") != false || prop(np, "IPMI", "ProtocolEnabled") != true {
		t.Errorf("GetNetworkProtocols %v", np)
	}
	logs := entries(t, mgr, "log")
	if len(logs) != 1 {
		t.Fatalf("GetLogs %v", logs)
	}
	var msgs []string
	for _, l := range logs[0].(map[string]any)["Entries"].([]any) {
		l := l.(map[string]any)
		msgs = append(msgs, fmt.Sprint(l["MessageId"], " ", l["Message"]))
	}
	if !slices.ContainsFunc(msgs, regexp.MustCompile(`^AccountSecurity\.1\.0\.1\.SuccessfulLogin Successful login of user 'admin' from '127\.0\.0\.1' over 'Redfish'\.$`).MatchString) ||
		!slices.Contains(msgs, "<nil> User 'admin' PATCH /redfish/v1/Chassis/1 from 127.0.0.1: 200 OK") {
		t.Errorf("GetLogs %q", msgs)
	}
	e.mustAnsible("redfish_command", "category=Manager", "command=ClearLogs")
	var audit struct {
		Members []struct{ MessageId, Message string }
	}
	e.getJSON("/redfish/v1/Managers/bmc/LogServices/AuditLog/Entries", &audit)
	if len(audit.Members) != 1 || audit.Members[0].MessageId != "LogService.1.1.0.LogCleared" {
		t.Errorf("after ClearLogs the audit log holds %+v", audit.Members)
	}

	// Update.
	upd := facts(t, e.mustAnsible("redfish_info", "category=Update", "command=GetFirmwareInventory"))
	versions := map[string]string{}
	for _, f := range entries(t, upd, "firmware") {
		f := f.(map[string]any)
		versions[str(f, "Id")] = str(f, "Version")
		// The BIOS and the BMC take SimpleUpdate; the other parts' images
		// are read-only.
		id := str(f, "Id")
		if f["Updateable"] != (id == "BIOS" || id == "BMC") || str(f, "Status", "State") != "Enabled" {
			t.Errorf("GetFirmwareInventory entry %v", f)
		}
	}
	want := map[string]string{"BIOS": prof.System.BIOSVersion, "BMC": prof.BMC.FirmwareVersion, "CPU0_Microcode": "0x2b0004d0",
		"NIC_LOM": "22.31.6", "NIC_NIC1": "4.40", "Storage_RAID1": "52.26.0-5179", "Drive_RAID1_Disk0": "JXTC404Q",
		"Drive_RAID1_Disk5": "1405", "PSU1": "1.2.0"}
	for id, v := range want {
		if versions[id] != v {
			t.Errorf("GetFirmwareInventory %s = %q, want %q", id, versions[id], v)
		}
	}
	if len(versions) != 15 {
		t.Errorf("GetFirmwareInventory: %d components, want 15: %v", len(versions), versions)
	}
}

// facts is an Ansible result's redfish_facts.
func facts(t *testing.T, res map[string]any) map[string]any {
	t.Helper()
	f, ok := res["redfish_facts"].(map[string]any)
	if !ok {
		t.Fatalf("no redfish_facts in %v", res)
	}
	return f
}

// entries is a fact's entries list.
func entries(t *testing.T, f map[string]any, key string) []any {
	t.Helper()
	v, _ := f[key].(map[string]any)
	e, ok := v["entries"].([]any)
	if !ok || v["ret"] != true {
		t.Fatalf("fact %s: %v", key, f[key])
	}
	return e
}

// perSystem is the inventory of the first (only) resource of a fact
// Ansible aggregates per system or manager: entries [[{uri}, inventory]].
func perSystem(t *testing.T, f map[string]any, key string) any {
	t.Helper()
	e := entries(t, f, key)
	pair, ok := e[0].([]any)
	if len(e) != 1 || !ok || len(pair) != 2 {
		t.Fatalf("fact %s: %v", key, e)
	}
	return pair[1]
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

// kvAll reads "key : value" lines as kv does, joining a repeated key's
// values with "|" (a FRU's several Board Extra fields).
func kvAll(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if old, dup := m[k]; dup {
			v = old + "|" + v
		}
		m[k] = v
	}
	return m
}

// fruBlocks splits `ipmitool fru print` output by device, joining a
// repeated field's values as kvAll does.
func fruBlocks(out string) map[string]map[string]string {
	blocks := map[string]map[string]string{}
	for name, lines := range fruSections(out) {
		blocks[name] = kvAll(strings.Join(lines, "\n"))
	}
	return blocks
}
