package profile

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Hardware is the rest of the server's inventory: processors, network
// adapters, storage, cooling and power. It is inlined into Profile, so its
// sections are top-level keys of the YAML (processors, nics, storage,
// fans, power_supplies).
//
// Defaults: a section that is absent from the file gets the built-in
// default for the board (DefaultHardware: Xeon-class processors matching
// the memory type in every socket, a dual-port 1GbE LOM and a dual-port
// 25GbE adapter, a RAID controller with two boot SSDs in RAID1 and four
// data disks in RAID5, six fans, two 1100 W supplies). A section given as
// an empty list means "none" where a server can do without (nics: [],
// storage: []); processors, fans and power_supplies need at least one
// entry when given.
type Hardware struct {
	// Processors describes the CPU in each socket: one entry per socket,
	// or a single entry that every socket carries (a board runs matched
	// processors).
	Processors []Processor `yaml:"processors" validate:"omitempty,max=8,dive"`
	// NICs are the host's network adapters in PCI order. Their ports are
	// numbered across adapters in that order; the first port of the first
	// adapter is the one the host PXE-boots from, whose MAC is
	// platform.HostNICMAC(serial).
	NICs []NIC `yaml:"nics" validate:"omitempty,max=8,dive"`
	// Storage are the storage controllers and the drives and volumes
	// behind each.
	Storage []StorageController `yaml:"storage" validate:"omitempty,max=4,dive"`
	// Fans are the chassis fans.
	Fans *Fans `yaml:"fans"`
	// PowerSupplies are the chassis power supplies, in bay order.
	PowerSupplies []PowerSupply `yaml:"power_supplies" validate:"omitempty,max=4,dive"`

	// set records which sections the file gave (the rest took defaults);
	// yaml cannot tell an absent list from an empty one after decoding
	// without it.
	set map[string]bool
}

// Processor is one CPU model (SMBIOS type 4 in real life).
type Processor struct {
	Model        string `yaml:"model" validate:"required,max=63"`
	Manufacturer string `yaml:"manufacturer" validate:"required,max=63"`
	// Architecture is the Redfish ProcessorArchitecture (x86 or ARM);
	// default x86, with instruction set x86-64 (ARM: ARM-A64).
	Architecture string `yaml:"architecture" validate:"omitempty,oneof=x86 ARM"`
	Cores        int    `yaml:"cores" validate:"required,min=1,max=512"`
	// Threads is at least Cores and at most four per core.
	Threads     int `yaml:"threads" validate:"required,min=1,max=2048"`
	MaxSpeedMHz int `yaml:"max_speed_mhz" validate:"required,min=100,max=10000"`
	// OperatingSpeedMHz is the base clock; default MaxSpeedMHz, at most it.
	OperatingSpeedMHz int `yaml:"operating_speed_mhz" validate:"omitempty,min=100,max=10000"`
	// Microcode is the running microcode revision ("0x2b0004d0").
	Microcode string `yaml:"microcode" validate:"max=31"`
	TDPWatts  int    `yaml:"tdp_watts" validate:"required,min=1,max=1000"`
	// CPUID is the signature the processor reports (leaf 1 EAX); zero
	// fields are left out of the Redfish ProcessorId.
	CPUID CPUID `yaml:"cpuid"`
}

// CPUID is a processor's family, model and stepping as CPUID leaf 1
// reports them (effective values, extended fields folded in).
type CPUID struct {
	Family   int `yaml:"family" validate:"min=0,max=511"`
	Model    int `yaml:"model" validate:"min=0,max=255"`
	Stepping int `yaml:"stepping" validate:"min=0,max=15"`
}

// NIC is one network adapter.
type NIC struct {
	// Name identifies the adapter (Redfish ids, IPMI FRU names): letters,
	// digits, '-' and '_'. Default NIC1, NIC2, ... by position.
	Name         string `yaml:"name" validate:"max=16"`
	Model        string `yaml:"model" validate:"required,max=63"`
	Manufacturer string `yaml:"manufacturer" validate:"required,max=63"`
	PartNumber   string `yaml:"part_number" validate:"max=63"`
	// SpeedMbps is the ports' top speed.
	SpeedMbps       int    `yaml:"speed_mbps" validate:"required,oneof=1000 10000 25000 40000 50000 100000 200000 400000"`
	FirmwareVersion string `yaml:"firmware_version" validate:"max=63"`
	// PXE is whether the adapter's option ROM can network-boot the host
	// (default true).
	PXE   *bool     `yaml:"pxe"`
	Ports []NICPort `yaml:"ports" validate:"required,min=1,max=8,dive"`
}

// NICPort is one port of an adapter, as cabled at power-on.
type NICPort struct {
	// Link is up (default) or down.
	Link string `yaml:"link" validate:"omitempty,oneof=up down"`
	// SpeedMbps is the negotiated speed of a port whose link is up;
	// default the adapter's speed, at most it.
	SpeedMbps int `yaml:"speed_mbps" validate:"omitempty,min=10,max=400000"`
}

// StorageController is a RAID or HBA controller with its drives and the
// volumes it builds from them.
type StorageController struct {
	// Name identifies the controller (Redfish Storage id): letters,
	// digits, '-' and '_'. Default RAID1, RAID2, ... by position.
	Name            string `yaml:"name" validate:"max=16"`
	Model           string `yaml:"model" validate:"required,max=63"`
	Manufacturer    string `yaml:"manufacturer" validate:"required,max=63"`
	FirmwareVersion string `yaml:"firmware_version" validate:"max=63"`
	// SpeedGbps is the controller's device link speed (12 for SAS-3).
	SpeedGbps float64 `yaml:"speed_gbps" validate:"omitempty,gt=0,max=128"`
	// RAIDLevels are the levels it can build (default RAID0, RAID1,
	// RAID5, RAID6, RAID10).
	RAIDLevels []string `yaml:"raid_levels" validate:"omitempty,dive,oneof=RAID0 RAID1 RAID5 RAID6 RAID10"`
	// Drives fill the controller's bays in order, from bay 0.
	Drives  []DriveGroup `yaml:"drives" validate:"omitempty,max=32,dive"`
	Volumes []Volume     `yaml:"volumes" validate:"omitempty,max=32,dive"`
}

// DriveGroup is Count identical drives in consecutive bays.
type DriveGroup struct {
	Count int `yaml:"count" validate:"omitempty,min=1,max=32"`
	// Media is SSD or HDD; Protocol SATA, SAS or NVMe (NVMe drives are SSDs).
	Media    string `yaml:"media" validate:"required,oneof=SSD HDD"`
	Protocol string `yaml:"protocol" validate:"required,oneof=SATA SAS NVMe"`
	// CapacityGB is the labelled capacity in decimal gigabytes (10^9 bytes).
	CapacityGB      int    `yaml:"capacity_gb" validate:"required,min=1,max=100000"`
	Model           string `yaml:"model" validate:"required,max=63"`
	Manufacturer    string `yaml:"manufacturer" validate:"required,max=63"`
	FirmwareVersion string `yaml:"firmware_version" validate:"max=63"`
	// RPM is a hard disk's rotation speed (default 7200); SSDs have none.
	RPM int `yaml:"rpm" validate:"omitempty,oneof=5400 7200 10000 15000"`
	// LifeLeftPercent is an SSD's predicted media life left (default 100);
	// hard disks do not report it.
	LifeLeftPercent *int `yaml:"life_left_percent" validate:"omitempty,min=0,max=100"`
}

// Volume is a logical drive the controller presents to the host.
type Volume struct {
	Name string `yaml:"name" validate:"required,max=31"`
	RAID string `yaml:"raid" validate:"required,oneof=RAID0 RAID1 RAID5 RAID6 RAID10"`
	// Drives are the member bays (0-based, in the controller's order).
	Drives []int `yaml:"drives" validate:"required,min=1,max=32,dive,min=0,max=255"`
	// CapacityGB is the usable size in decimal gigabytes; default all the
	// level gives from its members, at most that.
	CapacityGB int `yaml:"capacity_gb" validate:"omitempty,min=1"`
}

// Fans are the chassis fans, FAN1..FANn, one model throughout.
type Fans struct {
	Count int `yaml:"count" validate:"required,min=1,max=16"`
	// MaxRPM is full speed; MinRPM the floor the fan curve never goes
	// under while the host runs (default a fifth of MaxRPM).
	MaxRPM int `yaml:"max_rpm" validate:"required,min=500,max=25000"`
	MinRPM int `yaml:"min_rpm" validate:"omitempty,min=100,max=25000"`
}

// PowerSupply is Count identical supplies in consecutive bays.
type PowerSupply struct {
	Count           int    `yaml:"count" validate:"omitempty,min=1,max=4"`
	Model           string `yaml:"model" validate:"required,max=63"`
	Manufacturer    string `yaml:"manufacturer" validate:"required,max=63"`
	CapacityWatts   int    `yaml:"capacity_watts" validate:"required,min=100,max=10000"`
	FirmwareVersion string `yaml:"firmware_version" validate:"max=63"`
	// Input is AC (default) or DC.
	Input string `yaml:"input" validate:"omitempty,oneof=AC DC"`
	// EfficiencyPercent is the conversion efficiency at typical load
	// (default 94, 80 PLUS Platinum).
	EfficiencyPercent int `yaml:"efficiency_percent" validate:"omitempty,min=50,max=100"`
}

// hardwareKeys are Hardware's YAML keys, in file order.
var hardwareKeys = []string{"processors", "nics", "storage", "fans", "power_supplies"}

// Given reports whether the profile file gave section key (one of
// processors, nics, storage, fans, power_supplies) rather than taking the
// default.
func (h *Hardware) Given(key string) bool { return h.set[key] }

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// validateHardware checks what the struct tags cannot: cross-field rules,
// each error located at its field. It runs on the file's own sections,
// before defaults are filled in.
func (p *Profile) validateHardware(file string, root *yaml.Node) error {
	h := &p.Hardware
	fail := func(field, format string, args ...any) error {
		return &Error{File: file, Line: lineOf(root, field), Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	h.set = map[string]bool{}
	doc := root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	for _, k := range hardwareKeys {
		if v := mapValue(doc, k); v != nil && !(v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
			h.set[k] = true
		}
	}
	if h.set["processors"] {
		if len(h.Processors) == 0 {
			return fail("processors", "needs at least one entry")
		}
		if n := len(h.Processors); n != 1 && n != p.Memory.Sockets {
			return fail("processors", "%d entries for %d sockets: give one per socket, or one for all", n, p.Memory.Sockets)
		}
	}
	for i, c := range h.Processors {
		f := fmt.Sprintf("processors[%d]", i)
		if c.Threads < c.Cores || c.Threads > 4*c.Cores {
			return fail(f+".threads", "%d threads for %d cores: must be from cores to four per core", c.Threads, c.Cores)
		}
		if c.OperatingSpeedMHz > c.MaxSpeedMHz {
			return fail(f+".operating_speed_mhz", "%d MHz is above max_speed_mhz (%d)", c.OperatingSpeedMHz, c.MaxSpeedMHz)
		}
	}
	names := map[string]int{}
	ports := 0
	for i, n := range h.NICs {
		f := fmt.Sprintf("nics[%d]", i)
		name := n.Name
		if name == "" {
			name = fmt.Sprintf("NIC%d", i+1)
		} else if !nameRE.MatchString(name) {
			return fail(f+".name", "%q: use letters, digits, '-' and '_'", name)
		}
		if prev, dup := names[name]; dup {
			return fail(f+".name", "%q is already the name of nics[%d]", name, prev)
		}
		names[name] = i
		for j, pt := range n.Ports {
			if pt.SpeedMbps > n.SpeedMbps {
				return fail(fmt.Sprintf("%s.ports[%d].speed_mbps", f, j), "%d Mbit/s is above the adapter's %d", pt.SpeedMbps, n.SpeedMbps)
			}
			if pt.Link == "down" && pt.SpeedMbps != 0 {
				return fail(fmt.Sprintf("%s.ports[%d].speed_mbps", f, j), "a port whose link is down has no speed")
			}
		}
		ports += len(n.Ports)
	}
	if ports > 32 {
		return fail("nics", "%d ports in all: at most 32", ports)
	}
	names = map[string]int{}
	for i, c := range h.Storage {
		f := fmt.Sprintf("storage[%d]", i)
		if err := c.validate(f, i, names, fail); err != nil {
			return err
		}
	}
	if h.set["power_supplies"] && len(h.PowerSupplies) == 0 {
		return fail("power_supplies", "needs at least one entry")
	}
	supplies := 0
	for _, ps := range h.PowerSupplies {
		supplies += max(ps.Count, 1)
	}
	if supplies > 4 {
		return fail("power_supplies", "%d supplies in all: at most 4", supplies)
	}
	if fn := h.Fans; fn != nil && fn.MinRPM > fn.MaxRPM {
		return fail("fans.min_rpm", "%d is above max_rpm (%d)", fn.MinRPM, fn.MaxRPM)
	}
	return nil
}

func (c StorageController) validate(f string, i int, names map[string]int, fail func(string, string, ...any) error) error {
	name := c.Name
	if name == "" {
		name = fmt.Sprintf("RAID%d", i+1)
	} else if !nameRE.MatchString(name) {
		return fail(f+".name", "%q: use letters, digits, '-' and '_'", name)
	}
	if prev, dup := names[name]; dup {
		return fail(f+".name", "%q is already the name of storage[%d]", name, prev)
	}
	names[name] = i
	// bays maps each bay to the drive group filling it.
	var bays []int
	for j, d := range c.Drives {
		g := fmt.Sprintf("%s.drives[%d]", f, j)
		switch {
		case d.Protocol == "NVMe" && d.Media != "SSD":
			return fail(g+".media", "NVMe drives are SSDs")
		case d.Media == "SSD" && d.RPM != 0:
			return fail(g+".rpm", "an SSD does not rotate")
		case d.Media == "HDD" && d.LifeLeftPercent != nil:
			return fail(g+".life_left_percent", "only SSDs report media life left")
		}
		for range max(d.Count, 1) {
			bays = append(bays, j)
		}
	}
	if len(bays) > 32 {
		return fail(f+".drives", "%d drives: at most 32 bays", len(bays))
	}
	levels := c.RAIDLevels
	if len(levels) == 0 {
		levels = defaultRAIDLevels
	}
	used := map[int]int{}
	for j, v := range c.Volumes {
		g := fmt.Sprintf("%s.volumes[%d]", f, j)
		if !slices.Contains(levels, v.RAID) {
			return fail(g+".raid", "%s is not among the controller's levels %v", v.RAID, levels)
		}
		if msg := raidMembers(v.RAID, len(v.Drives)); msg != "" {
			return fail(g+".drives", "%s", msg)
		}
		for k, b := range v.Drives {
			if b >= len(bays) {
				return fail(fmt.Sprintf("%s.drives[%d]", g, k), "bay %d is empty (the controller has %d drives)", b, len(bays))
			}
			if prev, dup := used[b]; dup {
				return fail(fmt.Sprintf("%s.drives[%d]", g, k), "bay %d already belongs to volumes[%d]", b, prev)
			}
			used[b] = j
			if first := c.Drives[bays[v.Drives[0]]]; c.Drives[bays[b]].Media != first.Media {
				return fail(fmt.Sprintf("%s.drives[%d]", g, k), "a volume cannot mix %s and %s drives", first.Media, c.Drives[bays[b]].Media)
			}
		}
		if most := volumeMaxGB(c, bays, v); v.CapacityGB > most {
			return fail(g+".capacity_gb", "%d GB is more than %s of these drives gives (%d GB)", v.CapacityGB, v.RAID, most)
		}
	}
	return nil
}

var defaultRAIDLevels = []string{"RAID0", "RAID1", "RAID5", "RAID6", "RAID10"}

// raidMembers says what is wrong with n members for level, "" if nothing.
// RAID1 is a two-drive mirror, as on Broadcom MegaRAID and Dell PERC
// controllers; more mirrored drives make RAID10.
func raidMembers(level string, n int) string {
	switch {
	case level == "RAID1" && n != 2:
		return fmt.Sprintf("RAID1 mirrors exactly 2 drives (got %d)", n)
	case level == "RAID5" && n < 3:
		return fmt.Sprintf("RAID5 needs at least 3 drives (got %d)", n)
	case level == "RAID6" && n < 4:
		return fmt.Sprintf("RAID6 needs at least 4 drives (got %d)", n)
	case level == "RAID10" && (n < 4 || n%2 != 0):
		return fmt.Sprintf("RAID10 needs an even number of drives, at least 4 (got %d)", n)
	}
	return ""
}

// RAIDDataDrives is how many members' worth of capacity a level of n
// members gives the host: all (RAID0), one (RAID1), all but one or two
// parity (RAID5, RAID6), half (RAID10).
func RAIDDataDrives(level string, n int) int {
	switch level {
	case "RAID1":
		return 1
	case "RAID5":
		return n - 1
	case "RAID6":
		return n - 2
	case "RAID10":
		return n / 2
	}
	return n
}

// volumeMaxGB is what level gives from the smallest member: controllers
// use each member only up to the smallest one's size.
func volumeMaxGB(c StorageController, bays []int, v Volume) int {
	smallest := 0
	for i, b := range v.Drives {
		gb := c.Drives[bays[b]].CapacityGB
		if i == 0 || gb < smallest {
			smallest = gb
		}
	}
	return smallest * RAIDDataDrives(v.RAID, len(v.Drives))
}

// Resolved returns the hardware with every absent section replaced by
// its default for memory, and every optional field filled in. It is
// idempotent; Parse stores the resolved form, and the platform resolves
// again for profiles built in code.
func (h Hardware) Resolved(memory Memory) Hardware {
	d := DefaultHardware(memory)
	given := func(key string, present bool) bool { return h.set[key] || (h.set == nil && present) }
	out := Hardware{set: h.set}
	if given("processors", len(h.Processors) > 0) {
		out.Processors = slices.Clone(h.Processors)
	} else {
		out.Processors = d.Processors
	}
	if len(out.Processors) == 1 && memory.Sockets > 1 {
		for range memory.Sockets - 1 {
			out.Processors = append(out.Processors, out.Processors[0])
		}
	}
	for i := range out.Processors {
		c := &out.Processors[i]
		if c.Architecture == "" {
			c.Architecture = "x86"
		}
		if c.OperatingSpeedMHz == 0 {
			c.OperatingSpeedMHz = c.MaxSpeedMHz
		}
	}
	if given("nics", h.NICs != nil) {
		out.NICs = slices.Clone(h.NICs)
	} else {
		out.NICs = d.NICs
	}
	for i := range out.NICs {
		n := &out.NICs[i]
		if n.Name == "" {
			n.Name = fmt.Sprintf("NIC%d", i+1)
		}
		if n.PXE == nil {
			t := true
			n.PXE = &t
		}
		n.Ports = slices.Clone(n.Ports)
		for j := range n.Ports {
			pt := &n.Ports[j]
			if pt.Link == "" {
				pt.Link = "up"
			}
			if pt.Link == "up" && pt.SpeedMbps == 0 {
				pt.SpeedMbps = n.SpeedMbps
			}
		}
	}
	if given("storage", h.Storage != nil) {
		out.Storage = slices.Clone(h.Storage)
	} else {
		out.Storage = d.Storage
	}
	for i := range out.Storage {
		c := &out.Storage[i]
		if c.Name == "" {
			c.Name = fmt.Sprintf("RAID%d", i+1)
		}
		if len(c.RAIDLevels) == 0 {
			c.RAIDLevels = slices.Clone(defaultRAIDLevels)
		}
		c.Drives = slices.Clone(c.Drives)
		var bays []int
		for j := range c.Drives {
			g := &c.Drives[j]
			if g.Count == 0 {
				g.Count = 1
			}
			if g.Media == "HDD" && g.RPM == 0 {
				g.RPM = 7200
			}
			if g.Media == "SSD" && g.LifeLeftPercent == nil {
				full := 100
				g.LifeLeftPercent = &full
			}
			for range g.Count {
				bays = append(bays, j)
			}
		}
		c.Volumes = slices.Clone(c.Volumes)
		for j := range c.Volumes {
			v := &c.Volumes[j]
			if v.CapacityGB == 0 {
				v.CapacityGB = volumeMaxGB(*c, bays, *v)
			}
		}
	}
	if given("fans", h.Fans != nil) {
		f := *h.Fans
		out.Fans = &f
	} else {
		out.Fans = d.Fans
	}
	if out.Fans.MinRPM == 0 {
		out.Fans.MinRPM = out.Fans.MaxRPM / 5
	}
	if given("power_supplies", len(h.PowerSupplies) > 0) {
		out.PowerSupplies = slices.Clone(h.PowerSupplies)
	} else {
		out.PowerSupplies = d.PowerSupplies
	}
	for i := range out.PowerSupplies {
		ps := &out.PowerSupplies[i]
		if ps.Count == 0 {
			ps.Count = 1
		}
		if ps.Input == "" {
			ps.Input = "AC"
		}
		if ps.EfficiencyPercent == 0 {
			ps.EfficiencyPercent = 94
		}
	}
	return out
}

// DefaultHardware is what a profile without hardware sections gets (see
// Hardware): processors that go with the memory type, in every socket:
// DDR5 boards get a 4th-generation Xeon (Sapphire Rapids, DDR5-4800),
// DDR4 boards a 3rd-generation one (Ice Lake, DDR4-3200). The built-in
// profiles spell the same sections out.
func DefaultHardware(memory Memory) Hardware {
	cpu := Processor{
		Model: "Intel(R) Xeon(R) Gold 6448Y", Manufacturer: "Intel(R) Corporation", Architecture: "x86",
		Cores: 32, Threads: 64, MaxSpeedMHz: 4100, OperatingSpeedMHz: 2100, Microcode: "0x2b0004d0", TDPWatts: 225,
		CPUID: CPUID{Family: 6, Model: 143, Stepping: 8},
	}
	if memory.Type == "DDR4" {
		cpu = Processor{
			Model: "Intel(R) Xeon(R) Gold 6338", Manufacturer: "Intel(R) Corporation", Architecture: "x86",
			Cores: 32, Threads: 64, MaxSpeedMHz: 3200, OperatingSpeedMHz: 2000, Microcode: "0xd0003a5", TDPWatts: 205,
			CPUID: CPUID{Family: 6, Model: 106, Stepping: 6},
		}
	}
	sockets := max(memory.Sockets, 1)
	cpus := make([]Processor, sockets)
	for i := range cpus {
		cpus[i] = cpu
	}
	yes := true
	// The SSDs are some months into service.
	wear := 97
	return Hardware{
		Processors: cpus,
		NICs: []NIC{
			{Name: "LOM", Model: "BCM5720 Dual-Port 1GbE LOM", Manufacturer: "Broadcom Inc.", PartNumber: "BCM95720",
				SpeedMbps: 1000, FirmwareVersion: "22.31.6", PXE: &yes,
				Ports: []NICPort{{Link: "up", SpeedMbps: 1000}, {Link: "down"}}},
			{Name: "NIC1", Model: "Ethernet Network Adapter E810-XXVDA2", Manufacturer: "Intel(R) Corporation", PartNumber: "E810XXVDA2",
				SpeedMbps: 25000, FirmwareVersion: "4.40", PXE: &yes,
				Ports: []NICPort{{Link: "up", SpeedMbps: 25000}, {Link: "up", SpeedMbps: 25000}}},
		},
		Storage: []StorageController{{
			Name: "RAID1", Model: "MegaRAID 9560-16i", Manufacturer: "Broadcom Inc.", FirmwareVersion: "52.26.0-5179",
			SpeedGbps: 12, RAIDLevels: slices.Clone(defaultRAIDLevels),
			Drives: []DriveGroup{
				{Count: 2, Media: "SSD", Protocol: "SATA", CapacityGB: 480, Model: "MZ7L3480HCHQ", Manufacturer: "Samsung",
					FirmwareVersion: "JXTC404Q", LifeLeftPercent: &wear},
				{Count: 4, Media: "HDD", Protocol: "SAS", CapacityGB: 2400, Model: "AL15SEB24EQ", Manufacturer: "Toshiba",
					FirmwareVersion: "1405", RPM: 10000},
			},
			Volumes: []Volume{
				{Name: "boot", RAID: "RAID1", Drives: []int{0, 1}, CapacityGB: 480},
				{Name: "data", RAID: "RAID5", Drives: []int{2, 3, 4, 5}, CapacityGB: 7200},
			},
		}},
		Fans: &Fans{Count: 6, MaxRPM: 16800, MinRPM: 3360},
		PowerSupplies: []PowerSupply{{Count: 2, Model: "PWS-1K11A-1R", Manufacturer: "Delta Electronics", CapacityWatts: 1100,
			FirmwareVersion: "1.2.0", Input: "AC", EfficiencyPercent: 94}},
	}
}

// DriveCount is how many drives a controller holds.
func (c StorageController) DriveCount() int {
	n := 0
	for _, g := range c.Drives {
		n += max(g.Count, 1)
	}
	return n
}

// Bay returns the drive group filling bay b (0-based).
func (c StorageController) Bay(b int) (DriveGroup, bool) {
	for _, g := range c.Drives {
		n := max(g.Count, 1)
		if b < n {
			return g, true
		}
		b -= n
	}
	return DriveGroup{}, false
}

// String names a processor for logs and FRU descriptions.
func (c Processor) String() string {
	return strings.TrimSpace(fmt.Sprintf("%s %dC/%dT", c.Model, c.Cores, c.Threads))
}
