package platform

import (
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/platform/profile"
)

func TestHardwareFromDefaultProfile(t *testing.T) {
	p, err := New(profile.Default(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := p.Snapshot().Hardware
	serial := p.Profile().System.SerialNumber

	if n, cores, threads := h.ProcessorTotals(); n != 2 || cores != 64 || threads != 128 {
		t.Errorf("processors %d, cores %d, threads %d", n, cores, threads)
	}
	if c, ok := h.Processor("CPU1"); !ok || c.Socket != 1 || c.Model != "Intel(R) Xeon(R) Gold 6448Y" || c.InstructionSet != "x86-64" || c.TDPWatts != 225 {
		t.Errorf("CPU1 %+v", c)
	}

	// Ports: the first is the PXE boot port inventories already name.
	ports := h.Ports()
	if len(ports) != 4 || ports[0].ID != "LOM-1" || ports[3].ID != "NIC1-2" {
		t.Fatalf("ports %+v", ports)
	}
	if ports[0].MAC != HostNICMAC(serial).String() {
		t.Errorf("first port MAC %s, want HostNICMAC %s", ports[0].MAC, HostNICMAC(serial))
	}
	seen := map[string]bool{BMCMAC(serial).String(): true}
	for i, pt := range ports {
		if pt.Index != i || pt.MAC != HostPortMAC(serial, i).String() || seen[pt.MAC] {
			t.Errorf("port %s: index %d, MAC %s (repeated or not HostPortMAC)", pt.ID, pt.Index, pt.MAC)
		}
		mac := HostPortMAC(serial, i)
		if mac[0]&0x03 != 0x02 {
			t.Errorf("port %s MAC %s is not locally administered unicast", pt.ID, mac)
		}
		seen[pt.MAC] = true
	}
	if lom, _ := h.Port("LOM-2"); lom.LinkUp || lom.SpeedMbps != 0 || !lom.PXE {
		t.Errorf("LOM-2 %+v: want link down, no speed, PXE", lom)
	}
	if p25, _ := h.Port("NIC1-1"); !p25.LinkUp || p25.SpeedMbps != 25000 {
		t.Errorf("NIC1-1 %+v", p25)
	}

	c, ok := h.Controller("RAID1")
	if !ok || len(c.Drives) != 6 || len(c.Volumes) != 2 {
		t.Fatalf("controller %+v", c)
	}
	boot, _ := c.Volume("Volume0")
	if boot.RAID != "RAID1" || boot.CapacityBytes != 480e9 || strings.Join(boot.Drives, ",") != "Disk0,Disk1" {
		t.Errorf("boot volume %+v", boot)
	}
	if data, _ := c.Volume("Volume1"); data.CapacityBytes != 7200e9 || len(data.Drives) != 4 {
		t.Errorf("data volume %+v", data)
	}
	ssd, _ := c.Drive("Disk1")
	hdd, _ := c.Drive("Disk5")
	if ssd.Media != "SSD" || *ssd.LifeLeftPercent != 97 || ssd.Volume != "Volume0" || ssd.RPM != 0 || ssd.CapacityBytes != 480e9 {
		t.Errorf("Disk1 %+v", ssd)
	}
	if hdd.Media != "HDD" || hdd.LifeLeftPercent != nil || hdd.RPM != 10000 || hdd.Volume != "Volume1" || hdd.Protocol != "SAS" {
		t.Errorf("Disk5 %+v", hdd)
	}
	serials := map[string]bool{}
	for _, d := range c.Drives {
		if len(d.SerialNumber) != 12 || serials[d.SerialNumber] || d.SerialNumber != PartSerial("drive", serial, "RAID1/"+d.ID) {
			t.Errorf("drive %s serial %q", d.ID, d.SerialNumber)
		}
		serials[d.SerialNumber] = true
	}
	if PartSerial("drive", "OTHER", "RAID1/Disk0") == c.Drives[0].SerialNumber {
		t.Error("another server's drive has the same serial")
	}

	want := map[string]string{"BIOS": "1.0.0", "BMC": "1.0.0", "CPU0_Microcode": "0x2b0004d0", "NIC_LOM": "22.31.6",
		"NIC_NIC1": "4.40", "Storage_RAID1": "52.26.0-5179", "Drive_RAID1_Disk0": "JXTC404Q", "Drive_RAID1_Disk5": "1405", "PSU2": "1.2.0"}
	for id, v := range want {
		if f, ok := h.FirmwareByID(id); !ok || f.Version != v {
			t.Errorf("firmware %s: %+v", id, f)
		}
	}
	if f, _ := h.FirmwareByID("Drive_RAID1_Disk3"); f.Kind != FirmwareDrive || f.Target != "RAID1/Disk3" {
		t.Errorf("drive firmware %+v", f)
	}
	if len(h.Fans) != 6 || len(h.PowerSupplies) != 2 || h.Power.CapacityWatts != 1100 || !h.Power.Redundant {
		t.Errorf("fans %d, supplies %d, power %+v", len(h.Fans), len(h.PowerSupplies), h.Power)
	}
}

// The environment follows power and load: a running host's processors
// are warmer than the inlet air, its fans turn at or above their floor
// and its supplies draw more than they deliver; load raises all of it;
// switched off, processors cool to the inlet, the fans stop and only the
// standby rails draw.
func TestEnvironmentFollowsPowerAndLoad(t *testing.T) {
	p, err := New(profile.Default(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap := p.Snapshot()
	in := p.inst
	idle := in.readings(true, KernelSummary{TotalRAMBytes: 100, FreeBytes: 100}, snap.Slots)
	busy := in.readings(true, KernelSummary{TotalRAMBytes: 100, FreeBytes: 0}, snap.Slots)
	off := in.readings(false, KernelSummary{TotalRAMBytes: 100, FreeBytes: 0}, snap.Slots)

	for i, c := range idle.Processors {
		b := busy.Processors[i]
		if c.PowerWatts != c.TDPWatts*CPUIdlePercent/100 || b.PowerWatts != c.TDPWatts*(CPUIdlePercent+CPULoadPercent)/100 {
			t.Errorf("%s power idle %d busy %d of TDP %d", c.ID, c.PowerWatts, b.PowerWatts, c.TDPWatts)
		}
		if c.TemperatureC <= AmbientC || b.TemperatureC <= c.TemperatureC || b.TemperatureC >= CPUWarningC {
			t.Errorf("%s temperature idle %d busy %d", c.ID, c.TemperatureC, b.TemperatureC)
		}
		if o := off.Processors[i]; o.PowerWatts != 0 || o.TemperatureC > AmbientC+1 {
			t.Errorf("%s off: %+v", c.ID, o)
		}
	}
	if idle.Processors[1].TemperatureC <= idle.Processors[0].TemperatureC {
		t.Error("the downstream socket is no warmer")
	}
	for i, f := range idle.Fans {
		b := busy.Fans[i]
		if f.RPM < f.MinRPM || f.RPM%100 != 0 || b.RPM <= f.RPM || b.RPM > f.MaxRPM || off.Fans[i].RPM != 0 {
			t.Errorf("%s rpm idle %d busy %d off %d (min %d max %d)", f.ID, f.RPM, b.RPM, off.Fans[i].RPM, f.MinRPM, f.MaxRPM)
		}
	}
	for _, r := range []Hardware{idle, busy, off} {
		sum, out := 0, 0
		for _, ps := range r.PowerSupplies {
			sum += ps.InputWatts
			out += ps.OutputWatts
			if ps.InputWatts <= ps.OutputWatts {
				t.Errorf("%s draws %d W for %d W out", ps.ID, ps.InputWatts, ps.OutputWatts)
			}
		}
		if sum != r.Power.ConsumedWatts || out != r.Power.OutputWatts {
			t.Errorf("supplies %d/%d W, chassis %+v", sum, out, r.Power)
		}
	}
	if off.Power.OutputWatts != boardStandbyWatts || idle.Power.ConsumedWatts >= busy.Power.ConsumedWatts || busy.Power.ConsumedWatts > busy.Power.CapacityWatts {
		t.Errorf("power off %+v idle %+v busy %+v", off.Power, idle.Power, busy.Power)
	}

	// The snapshot carries the readings of the platform's own state.
	if err := p.SetPower(false); err != nil {
		t.Fatal(err)
	}
	h := p.Snapshot().Hardware
	if h.Fans[0].RPM != 0 || h.Processors[0].PowerWatts != 0 || h.Power.OutputWatts != boardStandbyWatts {
		t.Errorf("powered off: fans %+v, power %+v", h.Fans[0], h.Power)
	}
	if err := p.SetPower(true); err != nil {
		t.Fatal(err)
	}
	if h := p.Snapshot().Hardware; h.Fans[0].RPM == 0 || h.Processors[0].TemperatureC <= AmbientC {
		t.Errorf("powered on again: fans %+v, CPU0 %d °C", h.Fans[0], h.Processors[0].TemperatureC)
	}
}

// A worn SSD predicts its failure and its volume warns.
func TestWornDriveWarns(t *testing.T) {
	src, err := profile.BuiltinYAML("default")
	if err != nil {
		t.Fatal(err)
	}
	prof, err := profile.Parse("worn.yaml", []byte(strings.Replace(string(src), "life_left_percent: 97", "life_left_percent: 4", 1)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(prof, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := p.Snapshot().Hardware.Controller("RAID1")
	d0, _ := c.Drive("Disk0")
	d2, _ := c.Drive("Disk2")
	v0, _ := c.Volume("Volume0")
	v1, _ := c.Volume("Volume1")
	if !d0.FailurePredicted || d0.Health != HealthWarning || v0.Health != HealthWarning {
		t.Errorf("worn drive %+v, its volume %+v", d0, v0)
	}
	if d2.FailurePredicted || d2.Health != HealthOK || v1.Health != HealthOK {
		t.Errorf("healthy drive %+v, its volume %+v", d2, v1)
	}
}

func TestHostPortMACZeroIsHostNICMAC(t *testing.T) {
	for _, s := range []string{"BMCEMU0001", "x", ""} {
		if HostPortMAC(s, 0).String() != HostNICMAC(s).String() || HostPortMAC(s, 1).String() == HostNICMAC(s).String() {
			t.Errorf("serial %q: port 0 %s, port 1 %s, HostNICMAC %s", s, HostPortMAC(s, 0), HostPortMAC(s, 1), HostNICMAC(s))
		}
	}
}
