package platform

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bmcemu/bmcemu/platform/cxl"
	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/kernel"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/ras"
	"github.com/bmcemu/bmcemu/platform/smc"
	"github.com/bmcemu/bmcemu/platform/spd"
	"github.com/bmcemu/bmcemu/platform/vm"
)

// Snapshot is a consistent, immutable view of the server at one generation.
type Snapshot struct {
	// Generation increases with every change; surfaces derive ETags from it.
	Generation uint64         `json:"generation"`
	Profile    string         `json:"profile"`
	System     profile.System `json:"system"`
	BMC        profile.BMC    `json:"bmc"`
	Memory     profile.Memory `json:"memory"`
	PowerOn    bool           `json:"power_on"`
	// Identify is the chassis identify LED.
	Identify ChassisIdentify `json:"chassis_identify"`
	// ChangedAt is when the inventory or power state last changed (persisted).
	ChangedAt time.Time `json:"changed_at"`
	Slots     []Slot    `json:"slots"`
	// Kernel is the in-band OS's view of memory: what MemorySummary-style
	// totals should follow (memory the OS can use, not what is seated).
	Kernel KernelSummary `json:"kernel"`
	// Defective is the firmware's defective pool: modules parked after a
	// FW_FAULT, until pulled (volatile).
	Defective []firmware.ParkedModule `json:"defective,omitempty"`
	// RAS is the memory protection mode and the redundancy it provides.
	RAS RASStatus `json:"ras"`
	// Boot is the boot override the host firmware reads at its next boot.
	Boot BootOverride `json:"boot"`
	// Host is the host's power and boot state (host.go).
	Host HostStatus `json:"host"`
	// BootOptions are the host's UEFI boot options and BootOrder their
	// order (bootorder.go).
	BootOptions []BootOption `json:"boot_options"`
	BootOrder   []string     `json:"boot_order"`
	// Bios are the firmware's setup settings, current and staged
	// (bios.go); SecureBoot its secure boot state (secureboot.go).
	Bios       BiosSettings     `json:"bios"`
	SecureBoot SecureBootStatus `json:"secure_boot"`
	// VirtualMedia are the BMC's virtual media devices (vmedia.go).
	VirtualMedia []MediaSlot `json:"virtual_media"`
	// Firmware are the system firmware's and the BMC's versions and the
	// images staged for them (flash.go).
	Firmware FirmwareStatus `json:"firmware"`
	// Hardware is the processors, NICs, storage, fans and power supplies
	// with their readings (hardware.go, environment.go).
	Hardware Hardware `json:"hardware"`
	// Guest is a VM guest's memory devices as the hypervisor and the
	// guest's drivers see them (vmguest.go); nil on a physical server.
	Guest *vm.Status `json:"guest,omitempty"`
	// CXL is the CXL side (CXL profiles only).
	CXL *cxl.Status `json:"cxl,omitempty"`
}

// KernelSummary is the OS's memory accounting.
type KernelSummary struct {
	// TotalRAMBytes is MemTotal: totalram_pages() (managed pages of every
	// zone) x 4 KiB. It excludes memory the kernel reserved at boot and,
	// after a hot-add, the new range's memmap (64 bytes per 4 KiB page).
	TotalRAMBytes uint64 `json:"total_ram_bytes"`
	// FreeBytes is MemFree.
	FreeBytes uint64 `json:"free_bytes"`
	// OnlineBytes is the present memory of every online memory block:
	// the physical memory the OS has in service. It rises by a module's
	// capacity when its hot-add completes and falls when its blocks are
	// offlined.
	OnlineBytes uint64 `json:"online_bytes"`
	// OfflineBytes is the memory of blocks that exist but are offline.
	OfflineBytes   uint64 `json:"offline_bytes"`
	BlockSizeBytes uint64 `json:"block_size_bytes"`
	Blocks         int    `json:"blocks"`
	BlocksOnline   int    `json:"blocks_online"`
	Nodes          int    `json:"nodes"`
}

// Slot states, protocol-neutral. Surfaces map them, e.g. for Redfish
// Status.State: absent -> Absent, starting -> Starting, enabled -> Enabled,
// offline -> StandbyOffline, disabled -> Disabled, failed -> UnavailableOffline.
const (
	// StateAbsent: nothing is seated.
	StateAbsent = "absent"
	// StateStarting: a module is seated and its hot-add is under way
	// (isolation, SPD read, power ramp, training, TAD, OS add/online).
	StateStarting = "starting"
	// StateEnabled: in service; all of its memory is online in the OS
	// (boot modules: in service).
	StateEnabled = "enabled"
	// StateOffline: powered and mapped, but some or all of its memory
	// blocks are offline in the OS (operator offlined them, or an eject
	// is in progress).
	StateOffline = "offline"
	// StateDisabled: seated but not in service, through no fault: powered
	// down after an eject and waiting to be pulled, or seated with the
	// latch open.
	StateDisabled = "disabled"
	// StateFailed: the SMC refused the module (SPD check), the firmware
	// parked it (FW_FAULT), or the hot-add failed; Reason says why.
	StateFailed = "failed"
)

// Health values.
const (
	HealthOK       = "ok"
	HealthWarning  = "warning"
	HealthCritical = "critical"
)

// Slot is one DIMM socket on the board.
type Slot struct {
	Name       string `json:"name"`
	Ordinal    int    `json:"ordinal"` // 0-based position in board order
	Socket     int    `json:"socket"`
	Controller int    `json:"controller"` // memory controller within the socket
	Channel    int    `json:"channel"`    // channel within the socket (A=0)
	Position   int    `json:"position"`   // 1-based slot within the channel
	// LocationIndicator is the slot's identify LED, lit to guide a technician.
	LocationIndicator bool `json:"location_indicator"`
	// Module is the seated module (whatever its state), nil when empty.
	Module *Module `json:"module,omitempty"`

	// State is the slot's story in one word (the State* constants), Health
	// one of ok, warning, critical, and Reason why a slot failed or warns.
	State  string `json:"state"`
	Health string `json:"health"`
	Reason string `json:"reason,omitempty"`
	// Stage is the hot-plug step in progress: the SMC's operation
	// (isolating, ready, spd-read, ramping, ejecting, powering-off) or,
	// while the firmware runs, its stage (training, pattern-test,
	// wait-ospm-insert, wait-ospm-eject). Empty when idle.
	Stage string `json:"stage,omitempty"`

	// SMC view: slot power state (Off, Isolated, Ramping, Nominal), VDD,
	// attention LED (Off, Blinking, On), latch, speed the module runs at.
	Power        string `json:"power"`
	MilliVolts   int    `json:"millivolts"`
	AttentionLED string `json:"attention_led"`
	LatchOpen    bool   `json:"latch_open"`
	SpeedMTs     int    `json:"speed_mts,omitempty"`
	// Disturbed is set while bus noise makes the module's banks inaccessible.
	Disturbed bool `json:"disturbed,omitempty"`
	// TemperatureC is the seated module's temperature (whole °C, from the
	// thermal model in thermal.go); nil when the slot is empty.
	TemperatureC *int `json:"temperature_c,omitempty"`

	// Fault flags: armed fault kinds (the injection panel), the firmware's
	// FW_FAULT flag, and whether the module sits in the defective pool.
	Faults  []string `json:"faults,omitempty"`
	FWFault bool     `json:"fw_fault,omitempty"`
	Parked  bool     `json:"parked,omitempty"`

	// ACPI is the slot's PNP0C80 memory device: path and _STA.
	ACPIPath string `json:"acpi_path"`
	ACPISTA  uint8  `json:"acpi_sta"`
	// Memory is the hot-added range the module decodes (nil for boot
	// modules, striped across their socket's interleave set, and for
	// modules not mapped).
	Memory *SlotMemory `json:"memory,omitempty"`
	// RAS is the module's role and state in the memory protection mode and
	// its ECC counters (nil for empty slots).
	RAS *ras.ModuleStatus `json:"ras,omitempty"`
}

// SlotMemory is a hot-added module's range and the kernel's blocks in it.
type SlotMemory struct {
	Node         int    `json:"node"`
	Base         uint64 `json:"base"`
	Length       uint64 `json:"length"`
	Blocks       int    `json:"blocks"`        // memory blocks the kernel has over the range
	BlocksOnline int    `json:"blocks_online"` // of which online
	OnlineBytes  uint64 `json:"online_bytes"`
}

// Module is a seated DIMM.
type Module struct {
	SPD        spd.Module `json:"spd"`
	Image      []byte     `json:"-"`
	InsertedAt time.Time  `json:"inserted_at"`
}

// ChannelLetter is the silkscreen letter of the slot's channel.
func (s Slot) ChannelLetter() string { return profile.ChannelLetter(s.Channel) }

// Slot finds a slot by name.
func (s *Snapshot) Slot(name string) (Slot, bool) {
	for _, sl := range s.Slots {
		if sl.Name == name {
			return sl, true
		}
	}
	return Slot{}, false
}

// InstalledMiB is the capacity of all present modules.
func (s *Snapshot) InstalledMiB() uint64 {
	var t uint64
	for _, sl := range s.Slots {
		if sl.Module != nil {
			t += sl.Module.SPD.CapacityMiB
		}
	}
	return t
}

// Populated counts present modules.
func (s *Snapshot) Populated() int {
	n := 0
	for _, sl := range s.Slots {
		if sl.Module != nil {
			n++
		}
	}
	return n
}

// buildSnapshot reads every layer (each under its own lock, none held
// here) and composes generation gen.
func (p *Platform) buildSnapshot(gen uint64) *Snapshot {
	l := p.l()
	hw := l.smc.Slots()
	devs := l.fw.Devices()
	totals := l.kern.BlockTotals()
	mi := l.kern.Meminfo()
	nodes := len(l.kern.Nodes())
	defective := l.fw.Defective()

	p.mu.Lock()
	s := &Snapshot{
		Generation:   gen,
		Profile:      p.prof.Name,
		System:       p.prof.System,
		BMC:          p.prof.BMC,
		Memory:       p.prof.Memory,
		PowerOn:      p.powerOn,
		Identify:     p.identify,
		ChangedAt:    p.changed,
		Slots:        make([]Slot, len(p.slots)),
		Boot:         p.boot,
		Host:         p.host.status(),
		BootOptions:  p.bootOptionsLocked(),
		BootOrder:    slices.Clone(p.nvram.BootOrder),
		Bios:         p.biosSettingsLocked(),
		SecureBoot:   p.secureBootStatusLocked(),
		VirtualMedia: p.mediaSlotsLocked(),
		Firmware:     p.firmwareStatusLocked(),
	}
	leds := append([]bool(nil), p.leds...)
	inserted := append([]time.Time(nil), p.inserted...)
	p.mu.Unlock()

	if l.vm != nil {
		st := l.vm.Status()
		s.Guest = &st
	}
	if l.cxl != nil {
		st := l.cxl.Status()
		s.CXL = &st
	}
	bs := l.kern.BlockSizeBytes()
	k := &s.Kernel
	k.TotalRAMBytes, k.FreeBytes = mi.MemTotal<<10, mi.MemFree<<10
	k.BlockSizeBytes, k.Blocks, k.Nodes = bs, totals.Blocks, nodes
	k.BlocksOnline, k.OnlineBytes, k.OfflineBytes = totals.Online, totals.OnlineBytes, totals.OfflineBytes
	if len(defective) > 0 {
		s.Defective = defective
	}

	for i, d := range p.slots {
		st := hw[i]
		dev := devs[i]
		sl := Slot{Name: d.Name, Ordinal: d.Ordinal, Socket: d.Socket, Controller: d.Controller, Channel: d.Channel, Position: d.Position,
			LocationIndicator: leds[i],
			Power:             st.Power.String(), MilliVolts: st.MilliVolts, AttentionLED: st.LED.String(), LatchOpen: st.LatchOpen,
			SpeedMTs: st.SpeedMTs, Disturbed: st.Disturbed, FWFault: dev.FWFault, Parked: dev.Parked,
			ACPIPath: dev.Path, ACPISTA: dev.STA}
		for _, f := range p.faults.List(d.Name) {
			sl.Faults = append(sl.Faults, f.String())
		}
		if st.Present {
			sl.Module = p.decodedModule(l, d.Name, st.Seated, inserted[i])
		}
		if rng, ok := dev.Range(); ok {
			sm := &SlotMemory{Node: int(dev.PXM), Base: rng.Base, Length: rng.Length}
			first, last := rng.Base/bs, (rng.End()-1)/bs
			for _, b := range l.kern.BlockStatesIn(int(first), int(last)) {
				sm.Blocks++
				if b.Online {
					sm.BlocksOnline++
					sm.OnlineBytes += b.PresentPages * kernel.PageSize
				}
			}
			sl.Memory = sm
		}
		sl.State, sl.Health, sl.Reason, sl.Stage = slotState(st, dev, sl.Memory)
		sl.TemperatureC = dimmTemperature(s.PowerOn, s.Kernel, sl)
		s.Slots[i] = sl
	}
	s.RAS = l.ras.status(s.Slots)
	s.Hardware = p.inst.readings(s.PowerOn, s.Kernel, s.Slots)
	for i := range s.Slots {
		rasOverlay(&s.Slots[i], s.RAS.Job)
	}
	return s
}

// rasOverlay lets the RAS engine's verdict on a module in service win:
// a mirror side or cartridge taken out of service is disabled and
// critical, a mapped-out rank warns, and a module being rebuilt is
// starting until its copy completes.
func rasOverlay(sl *Slot, job *ras.Job) {
	r := sl.RAS
	if r == nil || sl.State != StateEnabled {
		return
	}
	switch r.State {
	case "Failed":
		sl.State, sl.Health = StateDisabled, HealthCritical
		sl.Reason = "taken out of service by the memory RAS engine; replace the module"
		if r.Role == "Cartridge" {
			sl.Reason = fmt.Sprintf("memory cartridge %d is out of the RAID5 array; replace the cartridge", r.Cartridge)
		}
	case "Unpaired":
		sl.State = StateDisabled
		sl.Reason = "its mirror partner's range was ejected: it holds no data; press attention to power it down, then pull it"
	case "MappedOut":
		sl.Health = HealthWarning
		sl.Reason = fmt.Sprintf("%d rank(s) mapped out after crossing the correctable error threshold; replace the module", r.MappedOutRanks)
	case "Resilvering", "Rebuilding":
		sl.State = StateStarting
		if job != nil {
			sl.Stage = fmt.Sprintf("%s %d%%", job.Kind, job.Percent)
		}
	}
	if r.UnprotectedUE && sl.Health != HealthCritical {
		sl.Health = HealthCritical
		sl.Reason = "uncorrectable ECC error with no redundancy to cover it; replace the module or clear its error counters"
	}
	if sl.Health == HealthOK && r.LoggingLimited {
		sl.Health, sl.Reason = HealthWarning, "correctable error logging limit reached"
	}
}

// slotState tells one slot's story from its three layers.
func slotState(st smc.SlotStatus, dev firmware.Device, mem *SlotMemory) (state, health, reason, stage string) {
	stage = string(st.Op)
	if st.Op == smc.OpFirmware && dev.Stage != "" {
		stage = dev.Stage
	} else if st.Op == smc.OpEjecting && dev.Stage != "" {
		stage = dev.Stage
	}
	health = HealthOK
	defer func() {
		if health == HealthOK && st.Disturbed {
			health, reason = HealthWarning, "bus noise: banks briefly inaccessible"
		}
	}()
	switch {
	case !st.Present:
		return StateAbsent, health, "", stage
	case dev.FWFault || dev.Parked:
		return StateFailed, HealthCritical, "FW_FAULT: " + dev.FaultReason, stage
	case st.Fault != "" && st.Op == smc.OpNone:
		return StateFailed, HealthWarning, strings.TrimPrefix(st.Fault, "FW_FAULT: "), stage
	case st.Fault != "" && st.Op == smc.OpPoweringOff:
		return StateFailed, HealthWarning, st.Fault, stage
	}
	switch st.Op {
	case smc.OpIsolating, smc.OpReady, smc.OpSPDRead, smc.OpRamping, smc.OpFirmware:
		return StateStarting, health, "", stage
	case smc.OpPoweringOff:
		return StateDisabled, health, "", stage
	}
	if st.Power == smc.PowerNominal && st.Module != nil {
		if mem != nil && mem.BlocksOnline < mem.Blocks || mem != nil && mem.Blocks == 0 {
			return StateOffline, health, "", stage
		}
		return StateEnabled, health, "", stage
	}
	return StateDisabled, health, "", stage
}

// modCacheEntry is a slot's decoded module, kept between snapshots.
type modCacheEntry struct {
	epoch  uint64 // the boot whose SMC numbered the seating
	seated uint64
	at     time.Time
	mod    *Module
}

// decodedModule is the module seated in slot (seating number seated, at
// at), decoded once per seating: a module's SPD changes only when it is
// swapped, and reading and decoding every seated module (CRC and all) for
// every event made each snapshot cost as much as the board is large.
// Modules in snapshots are immutable, so sharing them is safe. Callers
// hold pubMu (or are New, before anything else runs). Seating numbers are
// the SMC's of boot l, so entries are kept per boot.
func (p *Platform) decodedModule(l *layers, slot string, seated uint64, at time.Time) *Module {
	if e, ok := p.modCache[slot]; ok && e.epoch == l.epoch && e.seated == seated && e.at.Equal(at) {
		return e.mod
	}
	img, err := l.smc.Image(slot)
	if err != nil || img == nil {
		return nil
	}
	m, err := decodeModule(img, at)
	if err != nil {
		delete(p.modCache, slot)
		return nil
	}
	if p.modCache == nil {
		p.modCache = map[string]modCacheEntry{}
	}
	p.modCache[slot] = modCacheEntry{epoch: l.epoch, seated: seated, at: at, mod: m}
	return m
}
