package redfish

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/platform"
)

// Every property these resources show is read against the platform's
// snapshot or the default profile's hardware, so a rendering that drops
// or invents a value fails.

func TestProcessors(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	sys := getJSON(t, h, "/redfish/v1/Systems/1")
	sum := sys["ProcessorSummary"].(map[string]any)
	if sum["Count"] != 2.0 || sum["CoreCount"] != 64.0 || sum["LogicalProcessorCount"] != 128.0 ||
		sum["Model"] != "Intel(R) Xeon(R) Gold 6448Y" || sum["ThreadingEnabled"] != true {
		t.Errorf("ProcessorSummary %v", sum)
	}
	coll := getJSON(t, h, path(t, sys, "Processors", "@odata.id").(string))
	if len(members(t, coll)) != 2 {
		t.Fatalf("processors %v", coll)
	}
	snap := p.Snapshot()
	for i, m := range members(t, coll) {
		c := getJSON(t, h, m.(map[string]any)["@odata.id"].(string))
		want := snap.Hardware.Processors[i]
		if c["Id"] != want.ID || c["Socket"] != want.ID || c["TotalCores"] != 32.0 || c["TotalThreads"] != 64.0 ||
			c["MaxSpeedMHz"] != 4100.0 || c["OperatingSpeedMHz"] != 2100.0 || c["TDPWatts"] != 225.0 ||
			c["ProcessorArchitecture"] != "x86" || c["InstructionSet"] != "x86-64" || c["Manufacturer"] != "Intel(R) Corporation" {
			t.Errorf("%s: %v", want.ID, c)
		}
		id := c["ProcessorId"].(map[string]any)
		if id["VendorId"] != "GenuineIntel" || id["IdentificationRegisters"] != "0x000806F8" || id["MicrocodeInfo"] != "0x2b0004d0" ||
			id["EffectiveFamily"] != "0x6" || id["EffectiveModel"] != "0x8F" || id["Step"] != "0x8" {
			t.Errorf("%s ProcessorId %v", want.ID, id)
		}
		// Links.Memory: the modules seated on this socket, 8 of them.
		mem := path(t, c, "Links", "Memory").([]any)
		if len(mem) != 8 || !strings.Contains(mem[0].(map[string]any)["@odata.id"].(string), want.ID+"_DIMM_") {
			t.Errorf("%s memory links %v", want.ID, mem)
		}
	}
	// A host that is off runs no clock.
	if err := p.SetPower(false); err != nil {
		t.Fatal(err)
	}
	if c := getJSON(t, h, "/redfish/v1/Systems/1/Processors/CPU0"); c["OperatingSpeedMHz"] != nil {
		t.Errorf("powered off: OperatingSpeedMHz %v", c["OperatingSpeedMHz"])
	}
	checkError(t, do(t, h, http.MethodGet, "/redfish/v1/Systems/1/Processors/CPU2"), http.StatusNotFound, "ResourceNotFound", "Processor", "CPU2")
}

func TestEthernetInterfaces(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	serial := p.Snapshot().System.SerialNumber
	coll := getJSON(t, h, "/redfish/v1/Systems/1/EthernetInterfaces")
	ms := members(t, coll)
	if len(ms) != 4 {
		t.Fatalf("interfaces %v", coll)
	}
	want := []struct {
		id, link string
		speed    any
	}{{"LOM-1", "LinkUp", 1000.0}, {"LOM-2", "LinkDown", nil}, {"NIC1-1", "LinkUp", 25000.0}, {"NIC1-2", "LinkUp", 25000.0}}
	for i, m := range ms {
		e := getJSON(t, h, m.(map[string]any)["@odata.id"].(string))
		mac := platform.HostPortMAC(serial, i).String()
		if e["Id"] != want[i].id || e["LinkStatus"] != want[i].link || e["SpeedMbps"] != want[i].speed ||
			e["MACAddress"] != mac || e["PermanentMACAddress"] != mac || path(t, e, "Status", "Health") != "OK" {
			t.Errorf("interface %d: %v", i, e)
		}
	}
	// The boot port is the one inventories name before asking.
	if e := getJSON(t, h, "/redfish/v1/Systems/1/EthernetInterfaces/LOM-1"); e["MACAddress"] != platform.HostNICMAC(serial).String() {
		t.Errorf("first port MAC %v, HostNICMAC %s", e["MACAddress"], platform.HostNICMAC(serial))
	}
	checkError(t, do(t, h, http.MethodGet, "/redfish/v1/Systems/1/EthernetInterfaces/eth0"), http.StatusNotFound, "ResourceNotFound", "EthernetInterface", "eth0")
}

func TestStorage(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	c, _ := p.Snapshot().Hardware.Controller("RAID1")
	st := getJSON(t, h, "/redfish/v1/Systems/1/Storage/RAID1")
	ctl := path(t, st, "StorageControllers", 0).(map[string]any)
	if ctl["Model"] != "MegaRAID 9560-16i" || ctl["FirmwareVersion"] != "52.26.0-5179" || ctl["SpeedGbps"] != 12.0 ||
		ctl["SerialNumber"] != c.SerialNumber || len(ctl["SupportedRAIDTypes"].([]any)) != 5 {
		t.Errorf("inline controller %v", ctl)
	}
	if full := getJSON(t, h, "/redfish/v1/Systems/1/Storage/RAID1/Controllers/0"); full["Model"] != ctl["Model"] || full["SerialNumber"] != ctl["SerialNumber"] {
		t.Errorf("controller resource %v", full)
	}
	drives := st["Drives"].([]any)
	if len(drives) != 6 || st["Drives@odata.count"] != 6.0 {
		t.Fatalf("drives %v", drives)
	}
	for i, l := range drives {
		d := getJSON(t, h, l.(map[string]any)["@odata.id"].(string))
		want := c.Drives[i]
		if d["SerialNumber"] != want.SerialNumber || d["CapacityBytes"] != float64(want.CapacityBytes) || d["MediaType"] != want.Media ||
			d["Protocol"] != want.Protocol || d["Revision"] != want.FirmwareVersion {
			t.Errorf("drive %d: %v", i, d)
		}
		switch want.Media {
		case "SSD":
			if d["PredictedMediaLifeLeftPercent"] != 97.0 || d["RotationSpeedRPM"] != nil || d["CapacityBytes"] != 480e9 {
				t.Errorf("SSD %v", d)
			}
		case "HDD":
			if d["PredictedMediaLifeLeftPercent"] != nil || d["RotationSpeedRPM"] != 10000.0 || d["CapacityBytes"] != 2400e9 {
				t.Errorf("HDD %v", d)
			}
		}
	}
	vols := members(t, getJSON(t, h, "/redfish/v1/Systems/1/Storage/RAID1/Volumes"))
	wantVols := []struct {
		name, raid string
		bytes      float64
		drives     []string
	}{{"boot", "RAID1", 480e9, []string{"Disk0", "Disk1"}}, {"data", "RAID5", 7200e9, []string{"Disk2", "Disk3", "Disk4", "Disk5"}}}
	if len(vols) != 2 {
		t.Fatalf("volumes %v", vols)
	}
	for i, l := range vols {
		v := getJSON(t, h, l.(map[string]any)["@odata.id"].(string))
		var ids []string
		for _, d := range path(t, v, "Links", "Drives").([]any) {
			u := d.(map[string]any)["@odata.id"].(string)
			ids = append(ids, u[strings.LastIndex(u, "/")+1:])
		}
		w := wantVols[i]
		if v["Name"] != w.name || v["RAIDType"] != w.raid || v["CapacityBytes"] != w.bytes || !slices.Equal(ids, w.drives) {
			t.Errorf("volume %d: %v", i, v)
		}
		// Each member drive links back.
		back := getJSON(t, h, "/redfish/v1/Systems/1/Storage/RAID1/Drives/"+ids[0])
		if path(t, back, "Links", "Volumes", 0, "@odata.id") != l.(map[string]any)["@odata.id"] {
			t.Errorf("%s does not link %v", ids[0], l)
		}
	}
	simple := getJSON(t, h, "/redfish/v1/Systems/1/SimpleStorage/RAID1")
	devs := simple["Devices"].([]any)
	if len(devs) != 6 || path(t, devs[0], "CapacityBytes") != 480e9 || path(t, devs[5], "CapacityBytes") != 2400e9 || path(t, devs[0], "Status", "State") != "Enabled" {
		t.Errorf("SimpleStorage devices %v", devs)
	}
}

// Power and Thermal are the platform's environment readings, and follow
// the host's power.
func TestPowerAndThermal(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	check := func(on bool) {
		t.Helper()
		hw := p.Snapshot().Hardware
		pw := getJSON(t, h, "/redfish/v1/Chassis/1/Power")
		ctl := path(t, pw, "PowerControl", 0).(map[string]any)
		if ctl["PowerConsumedWatts"] != float64(hw.Power.ConsumedWatts) || ctl["PowerCapacityWatts"] != 1100.0 {
			t.Errorf("on=%v PowerControl %v, platform %+v", on, ctl, hw.Power)
		}
		psus := pw["PowerSupplies"].([]any)
		if len(psus) != 2 || path(t, psus[1], "Name") != "PSU2" || path(t, psus[1], "PowerInputWatts") != float64(hw.PowerSupplies[1].InputWatts) ||
			path(t, psus[0], "SerialNumber") != hw.PowerSupplies[0].SerialNumber {
			t.Errorf("supplies %v", psus)
		}
		th := getJSON(t, h, "/redfish/v1/Chassis/1/Thermal")
		temps := map[string]float64{}
		for _, tt := range th["Temperatures"].([]any) {
			temps[path(t, tt, "Name").(string)] = path(t, tt, "ReadingCelsius").(float64)
		}
		if temps["CPU0 Temp"] != float64(hw.Processors[0].TemperatureC) || temps["CPU1 Temp"] != float64(hw.Processors[1].TemperatureC) ||
			temps["Inlet Temp"] != float64(platform.AmbientC) {
			t.Errorf("on=%v temperatures %v", on, temps)
		}
		sl, _ := p.Snapshot().Slot("CPU0_DIMM_A1")
		if temps["CPU0_DIMM_A1 Temp"] != float64(*sl.TemperatureC) || len(temps) != 3+16 {
			t.Errorf("DIMM temperatures %v", temps)
		}
		fans := th["Fans"].([]any)
		if len(fans) != 6 {
			t.Fatalf("fans %v", fans)
		}
		for i, f := range fans {
			state := "Enabled"
			if !on {
				state = "StandbyOffline"
			}
			if path(t, f, "Reading") != float64(hw.Fans[i].RPM) || path(t, f, "ReadingUnits") != "RPM" || path(t, f, "Status", "State") != state {
				t.Errorf("on=%v fan %d: %v", on, i, f)
			}
		}
	}
	check(true)
	if err := p.SetPower(false); err != nil {
		t.Fatal(err)
	}
	check(false)
}

func TestManagerNetwork(t *testing.T) {
	p := newPlatform(t)
	h := newHandlerCfg(t, p, Config{Network: NetworkConfig{IPMI: "127.0.3.4:623", HTTPS: "127.0.3.4:443"}})
	mgr := getJSON(t, h, "/redfish/v1/Managers/bmc")
	np := getJSON(t, h, path(t, mgr, "NetworkProtocol", "@odata.id").(string))
	if path(t, np, "IPMI", "Port") != 623.0 || path(t, np, "IPMI", "ProtocolEnabled") != true ||
		path(t, np, "HTTPS", "Port") != 443.0 || path(t, np, "HTTP", "ProtocolEnabled") != false || path(t, np, "SSH", "ProtocolEnabled") != false {
		t.Errorf("NetworkProtocol %v", np)
	}
	nics := members(t, getJSON(t, h, path(t, mgr, "EthernetInterfaces", "@odata.id").(string)))
	if len(nics) != 1 {
		t.Fatalf("manager interfaces %v", nics)
	}
	e := getJSON(t, h, nics[0].(map[string]any)["@odata.id"].(string))
	mac := platform.BMCMAC(p.Snapshot().System.SerialNumber).String()
	if e["MACAddress"] != mac || path(t, e, "IPv4Addresses", 0, "Address") != "127.0.3.4" || path(t, e, "IPv4Addresses", 0, "SubnetMask") != "255.0.0.0" {
		t.Errorf("manager interface %v (BMC MAC %s)", e, mac)
	}
	for _, port := range p.Snapshot().Hardware.Ports() {
		if port.MAC == mac {
			t.Errorf("host port %s has the BMC's MAC", port.ID)
		}
	}
}

func TestFirmwareInventory(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	root := getJSON(t, h, "/redfish/v1/")
	us := getJSON(t, h, path(t, root, "UpdateService", "@odata.id").(string))
	inv := members(t, getJSON(t, h, path(t, us, "FirmwareInventory", "@odata.id").(string)))
	snap := p.Snapshot()
	fw := snap.Hardware.Firmware
	if len(inv) != len(fw) || len(fw) != 15 {
		t.Fatalf("inventory %d members, platform %d components", len(inv), len(fw))
	}
	for i, m := range inv {
		e := getJSON(t, h, m.(map[string]any)["@odata.id"].(string))
		// The BIOS and the BMC are SimpleUpdate's, at the versions the
		// platform's firmware state reports.
		version, updateable := fw[i].Version, false
		switch fw[i].Kind {
		case platform.FirmwareBIOS:
			version, updateable = snap.Firmware.BIOS, true
		case platform.FirmwareBMC:
			version, updateable = snap.Firmware.BMC, true
		}
		if e["Id"] != fw[i].ID || e["Version"] != version || e["Updateable"] != updateable || e["WriteProtected"] != !updateable || e["SoftwareId"] != fw[i].Kind {
			t.Errorf("%s: %v", fw[i].ID, e)
		}
		// Every related item is a resource the service has (a supply is
		// its entry in Power).
		for _, l := range e["RelatedItem"].([]any) {
			u, _, _ := strings.Cut(l.(map[string]any)["@odata.id"].(string), "#")
			if w := do(t, h, http.MethodGet, u); w.Code != http.StatusOK {
				t.Errorf("%s RelatedItem %s: %d", fw[i].ID, u, w.Code)
			}
		}
	}
	want := map[string]string{"BIOS": "/redfish/v1/Systems/1", "BMC": "/redfish/v1/Managers/bmc",
		"NIC_LOM": "/redfish/v1/Systems/1/EthernetInterfaces/LOM-1", "Drive_RAID1_Disk3": "/redfish/v1/Systems/1/Storage/RAID1/Drives/Disk3",
		"Storage_RAID1": "/redfish/v1/Systems/1/Storage/RAID1/Controllers/0", "CPU1_Microcode": "/redfish/v1/Systems/1/Processors/CPU1"}
	for id, u := range want {
		e := getJSON(t, h, "/redfish/v1/UpdateService/FirmwareInventory/"+id)
		if path(t, e, "RelatedItem", 0, "@odata.id") != u {
			t.Errorf("%s RelatedItem %v, want %s", id, e["RelatedItem"], u)
		}
	}
}

// The audit log records logins, failed logins, changes and clears, not
// reads; a clear leaves the record of the clear.
func TestManagerAuditLog(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	entries := func() []map[string]any {
		var out []map[string]any
		for _, m := range members(t, getJSON(t, h, "/redfish/v1/Managers/bmc/LogServices/AuditLog/Entries")) {
			out = append(out, m.(map[string]any))
		}
		return out
	}
	if got := entries(); len(got) != 0 {
		t.Fatalf("a new BMC's audit log holds %v", got)
	}
	login(t, h, "reader", "reader-pw")
	if w := do(t, h, http.MethodPost, pathSessions, noAuth, withBody(`{"UserName":"reader","Password":"wrong"}`)); w.Code != http.StatusUnauthorized {
		t.Fatalf("bad login: %d", w.Code)
	}
	if w := do(t, h, http.MethodPatch, "/redfish/v1/Chassis/1", withBody(`{"IndicatorLED":"Lit"}`)); w.Code != http.StatusOK {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body)
	}
	// A refused write and reads are not changes.
	do(t, h, http.MethodPatch, "/redfish/v1/Chassis/1", basic("reader", "reader-pw"), withBody(`{"IndicatorLED":"Off"}`))
	getJSON(t, h, "/redfish/v1/Systems/1")
	got := entries()
	if len(got) != 3 {
		t.Fatalf("entries %v", got)
	}
	if got[0]["MessageId"] != "AccountSecurity.1.0.1.SuccessfulLogin" || fmt.Sprint(got[0]["MessageArgs"]) != "[reader 192.0.2.1 Redfish]" || got[0]["EntryType"] != "Event" {
		t.Errorf("login entry %v", got[0])
	}
	if got[1]["MessageId"] != "AccountSecurity.1.0.1.InvalidCredentials" || got[1]["Severity"] != "Critical" || got[1]["Message"] != "'reader' provided invalid credentials over 'Redfish'." {
		t.Errorf("failed login entry %v", got[1])
	}
	if got[2]["EntryType"] != "Oem" || got[2]["OemRecordFormat"] != "BmcemuAudit" || got[2]["MessageId"] != nil ||
		got[2]["Message"] != "User 'admin' PATCH /redfish/v1/Chassis/1 from 192.0.2.1: 200 OK" {
		t.Errorf("change entry %v", got[2])
	}
	if e := getJSON(t, h, "/redfish/v1/Managers/bmc/LogServices/AuditLog/Entries/3"); e["Message"] != got[2]["Message"] {
		t.Errorf("entry 3 %v", e)
	}

	svc := getJSON(t, h, "/redfish/v1/Managers/bmc/LogServices/AuditLog")
	target := path(t, svc, "Actions", "#LogService.ClearLog", "target").(string)
	if w := do(t, h, http.MethodPost, target, basic("op", "x")); w.Code != http.StatusUnauthorized {
		t.Errorf("unknown user cleared the log: %d", w.Code)
	}
	if w := do(t, h, http.MethodPost, target, withBody(`{}`)); w.Code != http.StatusNoContent {
		t.Fatalf("ClearLog: %d %s", w.Code, w.Body)
	}
	got = entries()
	if len(got) != 1 || got[0]["MessageId"] != "LogService.1.1.0.LogCleared" || got[0]["Id"] != "4" ||
		fmt.Sprint(got[0]["MessageArgs"]) != "[/redfish/v1/Managers/bmc/LogServices/AuditLog]" {
		t.Errorf("after ClearLog %v", got)
	}
	// Clearing another log is recorded here too.
	h2 := newHandlerCfg(t, newPlatform(t), Config{SEL: newSEL(t)})
	do(t, h2, http.MethodPost, "/redfish/v1/Systems/1/LogServices/SEL/Actions/LogService.ClearLog", withBody(`{}`))
	e := getJSON(t, h2, "/redfish/v1/Managers/bmc/LogServices/AuditLog/Entries/1")
	if e["MessageId"] != "LogService.1.1.0.LogCleared" || fmt.Sprint(e["MessageArgs"]) != "[/redfish/v1/Systems/1/LogServices/SEL]" {
		t.Errorf("SEL clear recorded as %v", e)
	}
}

// The log wraps at its capacity, keeping the newest records and saying so.
func TestAuditLogWraps(t *testing.T) {
	var l auditLog
	for i := range auditCapacity + 5 {
		l.add(auditRecord{message: fmt.Sprint(i)})
	}
	recs, overflow := l.list()
	if len(recs) != auditCapacity || !overflow || recs[0].message != "5" || recs[0].id != 6 || recs[len(recs)-1].id != auditCapacity+5 {
		t.Errorf("%d records from id %d (%s), overflow %v", len(recs), recs[0].id, recs[0].message, overflow)
	}
}

func TestAuditMessagesMatchRegistries(t *testing.T) {
	files := map[string]string{accountSecurityRegistry: "AccountSecurity.1.0.1.json", logServiceRegistry: "LogService.1.1.0.json"}
	for full, m := range auditMessages {
		i := strings.LastIndex(full, ".")
		var reg struct {
			Messages map[string]struct {
				Message, MessageSeverity, Resolution string
				ParamTypes                           []string
			}
		}
		if err := json.Unmarshal(registryFile(t, files[full[:i]]), &reg); err != nil {
			t.Fatal(err)
		}
		r, ok := reg.Messages[full[i+1:]]
		if !ok || r.Message != m.text || r.MessageSeverity != m.severity || r.Resolution != m.resolution || len(r.ParamTypes) != m.args {
			t.Errorf("%s differs from its registry: %+v", full, r)
		}
	}
}
