package profile

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// withoutHardware is the default profile cut before its hardware sections.
func withoutHardware(t *testing.T) string {
	t.Helper()
	base, _, ok := strings.Cut(string(defaultYAML), "\n# The rest of the server")
	if !ok {
		t.Fatal("default.yaml lost its hardware marker comment")
	}
	return base + "\n"
}

func sameHardware(a, b Hardware) bool {
	a.set, b.set = nil, nil
	return reflect.DeepEqual(a, b)
}

// Every built-in profile spells out exactly the defaults for its board,
// so what `bmcemu profile show` prints is what a profile without the
// sections gets.
func TestBuiltinsSpellOutTheDefaults(t *testing.T) {
	for _, name := range BuiltinNames() {
		p, err := Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range hardwareKeys {
			if !p.Given(k) {
				t.Errorf("%s: no %s section", name, k)
			}
		}
		want := DefaultHardware(p.Memory).Resolved(p.Memory)
		if !sameHardware(p.Hardware, want) {
			t.Errorf("%s: hardware differs from DefaultHardware:\n got %+v\nwant %+v", name, p.Hardware, want)
		}
		if len(p.Processors) != p.Memory.Sockets {
			t.Errorf("%s: %d processors on %d sockets", name, len(p.Processors), p.Memory.Sockets)
		}
	}
}

func TestHardwareDefaults(t *testing.T) {
	p, err := Parse("bare.yaml", []byte(withoutHardware(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range hardwareKeys {
		if p.Given(k) {
			t.Errorf("%s reported as given", k)
		}
	}
	if !sameHardware(p.Hardware, Default().Hardware) {
		t.Errorf("a profile without hardware sections got %+v", p.Hardware)
	}
	cpu := p.Processors[1]
	if len(p.Processors) != 2 || cpu.Model != "Intel(R) Xeon(R) Gold 6448Y" || cpu.Threads != 64 || cpu.TDPWatts != 225 {
		t.Errorf("processors %+v", p.Processors)
	}
	if len(p.NICs) != 2 || len(p.NICs[0].Ports) != 2 || p.NICs[1].SpeedMbps != 25000 || !*p.NICs[0].PXE {
		t.Errorf("nics %+v", p.NICs)
	}
	st := p.Storage[0]
	if st.DriveCount() != 6 || len(st.Volumes) != 2 || st.Volumes[0].RAID != "RAID1" || st.Volumes[1].CapacityGB != 7200 {
		t.Errorf("storage %+v", st)
	}
	if p.Fans.Count != 6 || len(p.PowerSupplies) != 1 || p.PowerSupplies[0].Count != 2 {
		t.Errorf("fans %+v, supplies %+v", p.Fans, p.PowerSupplies)
	}

	// A DDR4 board gets the DDR4 generation of processor, in each socket.
	ddr4 := strings.Replace(strings.Replace(withoutHardware(t), "type: DDR5", "type: DDR4", 1), "speed_mts: 4800", "speed_mts: 3200", 2)
	if p, err := Parse("ddr4.yaml", []byte(ddr4)); err != nil {
		t.Fatal(err)
	} else if p.Processors[0].Model != "Intel(R) Xeon(R) Gold 6338" || len(p.Processors) != 2 {
		t.Errorf("DDR4 board processors %+v", p.Processors)
	}

	// Empty lists mean none; fields left out are filled in.
	src := withoutHardware(t) + `nics: []
storage:
  - model: HBA 9500-8i
    manufacturer: Broadcom Inc.
    drives: [{media: HDD, protocol: SAS, capacity_gb: 4000, model: X, manufacturer: Y}, {count: 2, media: SSD, protocol: NVMe, capacity_gb: 960, model: Z, manufacturer: Y}]
    volumes: [{name: fast, raid: RAID0, drives: [1, 2]}]
processors: [{model: Ampere Altra Q80-30, manufacturer: Ampere(R), architecture: ARM, cores: 80, threads: 80, max_speed_mhz: 3000, tdp_watts: 210}]
`
	p, err = Parse("custom.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if p.NICs == nil || len(p.NICs) != 0 || !p.Given("nics") {
		t.Errorf("nics: [] gave %v", p.NICs)
	}
	c := p.Storage[0]
	if c.Name != "RAID1" || c.Drives[0].RPM != 7200 || *c.Drives[1].LifeLeftPercent != 100 || c.Drives[0].LifeLeftPercent != nil ||
		c.Volumes[0].CapacityGB != 1920 || c.DriveCount() != 3 || len(c.RAIDLevels) != 5 {
		t.Errorf("storage defaults %+v", c)
	}
	if g, ok := c.Bay(2); !ok || g.Protocol != "NVMe" {
		t.Errorf("bay 2 is %+v", g)
	}
	if len(p.Processors) != 2 || p.Processors[1].OperatingSpeedMHz != 3000 || p.Processors[0].Architecture != "ARM" {
		t.Errorf("processors %+v", p.Processors)
	}
	if !sameHardware(p.Hardware, p.Hardware.Resolved(p.Memory)) {
		t.Error("Resolved is not idempotent")
	}
}

// Bad hardware sections are refused with the line and the field.
func TestHardwareErrorsNameLineAndField(t *testing.T) {
	base := string(defaultYAML)
	lineOfText := func(s, sub string) int {
		i := strings.Index(s, sub)
		if i < 0 {
			t.Fatalf("%q not in the profile", sub)
		}
		return strings.Count(s[:i], "\n") + 1
	}
	cases := []struct {
		name, old, new, at, want string
	}{
		{"threads below cores", "threads: 64", "threads: 16", "threads: 16", "processors[0].threads: 16 threads for 32 cores"},
		{"operating above max", "operating_speed_mhz: 2100", "operating_speed_mhz: 5000", "operating_speed_mhz", "processors[0].operating_speed_mhz: 5000 MHz is above"},
		{"missing model", "  - model: Intel(R) Xeon(R) Gold 6448Y\n    manufacturer: Intel(R) Corporation", "  - manufacturer: Intel(R) Corporation", "manufacturer: Intel(R) Corporation", "processors[0].model: is required"},
		{"architecture", "architecture: x86", "architecture: MIPS", "architecture: MIPS", "processors[0].architecture: must be one of [x86 ARM]"},
		{"unknown nic key", "    pxe: true\n    ports: [{link: up, speed_mbps: 1000}", "    pxe: true\n    colour: red\n    ports: [{link: up, speed_mbps: 1000}", "colour", "field colour not found"},
		{"nic speed", "speed_mbps: 25000\n", "speed_mbps: 30000\n", "speed_mbps: 30000", "nics[1].speed_mbps: must be one of"},
		{"port speed", "{link: up, speed_mbps: 1000}", "{link: up, speed_mbps: 10000}", "speed_mbps: 10000}", "nics[0].ports[0].speed_mbps: 10000 Mbit/s is above the adapter's 1000"},
		{"link", "{link: down}", "{link: sideways}", "sideways", "nics[0].ports[1].link: must be one of [up down]"},
		{"duplicate nic", "name: NIC1", "name: LOM", "name: LOM\n    model: Ethernet", `nics[1].name: "LOM" is already the name of nics[0]`},
		{"nic name", "name: NIC1", "name: NIC 1", "name: NIC 1", `nics[1].name: "NIC 1": use letters`},
		{"nvme hdd", "media: HDD, protocol: SAS", "media: HDD, protocol: NVMe", "media: HDD, protocol: NVMe", "storage[0].drives[1].media: NVMe drives are SSDs"},
		{"ssd rpm", "life_left_percent: 97}", "life_left_percent: 97, rpm: 7200}", "life_left_percent: 97, rpm", "storage[0].drives[0].rpm: an SSD does not rotate"},
		{"raid1 of three", "drives: [0, 1], capacity_gb: 480", "drives: [0, 1, 2], capacity_gb: 480", "drives: [0, 1, 2]", "storage[0].volumes[0].drives: RAID1 mirrors exactly 2 drives (got 3)"},
		{"empty bay", "drives: [2, 3, 4, 5]", "drives: [2, 3, 4, 9]", "drives: [2, 3, 4, 9]", "storage[0].volumes[1].drives[3]: bay 9 is empty"},
		{"bay twice", "drives: [2, 3, 4, 5]", "drives: [1, 3, 4, 5]", "drives: [1, 3, 4, 5]", "storage[0].volumes[1].drives[0]: bay 1 already belongs to volumes[0]"},
		{"too big", "capacity_gb: 7200}", "capacity_gb: 9600}", "capacity_gb: 9600}", "storage[0].volumes[1].capacity_gb: 9600 GB is more than RAID5"},
		{"level not offered", "raid_levels: [RAID0, RAID1, RAID5, RAID6, RAID10]", "raid_levels: [RAID1]", "name: data", "storage[0].volumes[1].raid: RAID5 is not among"},
		{"fan floor", "min_rpm: 3360", "min_rpm: 20000", "fans:", "fans.min_rpm: 20000 is above max_rpm"},
		{"no fans", "fans: {count: 6, max_rpm: 16800, min_rpm: 3360}", "fans: {max_rpm: 16800}", "fans:", "fans.count: is required"},
		{"supply input", "input: AC", "input: 3-phase", "input: 3-phase", "power_supplies[0].input: must be one of [AC DC]"},
		{"supplies", "{count: 2, model: PWS", "{count: 5, model: PWS", "count: 5", "power_supplies[0].count: must be at most 4"},
	}
	for _, tc := range cases {
		if !strings.Contains(base, tc.old) {
			t.Fatalf("%s: %q not in default.yaml", tc.name, tc.old)
		}
		src := strings.Replace(base, tc.old, tc.new, 1)
		_, err := Parse("p.yaml", []byte(src))
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("%s: got %v, want *Error", tc.name, err)
			continue
		}
		if line := lineOfText(src, tc.at); !strings.Contains(err.Error(), tc.want) || pe.Line != line {
			t.Errorf("%s: got %q (line %d), want line %d containing %q", tc.name, err, pe.Line, line, tc.want)
		}
	}

	// Cross-field errors on sections appended to a bare profile.
	bare := withoutHardware(t)
	for _, tc := range []struct{ src, want string }{
		{"processors: []\n", "processors: needs at least one entry"},
		{"power_supplies: []\n", "power_supplies: needs at least one entry"},
		{"processors: [{model: a, manufacturer: b, cores: 1, threads: 1, max_speed_mhz: 1000, tdp_watts: 1}, {model: a, manufacturer: b, cores: 1, threads: 1, max_speed_mhz: 1000, tdp_watts: 1}, {model: a, manufacturer: b, cores: 1, threads: 1, max_speed_mhz: 1000, tdp_watts: 1}]\n",
			"processors: 3 entries for 2 sockets"},
	} {
		_, err := Parse("p.yaml", []byte(bare+tc.src))
		var pe *Error
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) || pe.Line != strings.Count(bare, "\n")+1 {
			t.Errorf("%q: got %v, want %q on line %d", tc.src, err, tc.want, strings.Count(bare, "\n")+1)
		}
	}
}
