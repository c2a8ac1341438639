// Package platform is the simulated server behind the BMC: its board, memory
// slots and modules, and the commands the physical world applies to them. It
// knows nothing of Redfish or IPMI. Surfaces read immutable snapshots and
// subscribe to the ordered event stream; they never hold a copy of the truth.
//
// Inside, the server is wired from its layers, each its own package:
//
//	smc       slot power, attention button and LED, latch, SPD checks, bus noise
//	firmware  training, TAD, SRAT/HMAT, PNP0C80 memory devices (_STA/_OST/_EJ0)
//	kernel    the OS memory manager: nodes, zones, buddy, memory blocks, dmesg
//
// The SMC raises the SCI to the firmware (smc.Notifier); the firmware
// notifies the OS through an OSPM, implemented here by the acpi_memhotplug
// driver adapter (ospm.go) over the kernel. All three publish to one event
// bus through the platform, which rebuilds the snapshot before each record
// goes out: a subscriber that sees record N reads a snapshot at least as new.
//
// Persistence: the saved inventory is the physical truth, the SPD image of
// every module seated in a slot (plus host power, the firmware's RAS mode
// and the boot override, which a BMC keeps in NVRAM, and the host
// firmware's NVRAM: boot order, BIOS settings current and staged, secure
// boot, firmware versions and staged images; see HostNVRAM). It is written when it
// changes, when a module is seated or pulled; a hot-add completing does not
// change it. After a restart every saved module boots as boot memory, as a
// real server does after a reboot: the firmware trains it at POST and the
// kernel finds it in the memory map, striped into its socket's interleave
// set. Armed faults, LEDs, latches and the defective pool are volatile.
package platform

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/cxl"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/kernel"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/ras/ecc"
	"github.com/bmcemu/bmcemu/platform/smc"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// Typed errors; each surface maps them to its own error form.
var (
	ErrUnknownSlot  = errors.New("unknown slot")
	ErrSlotOccupied = errors.New("slot is occupied")
	ErrSlotEmpty    = errors.New("slot is empty")
	ErrBadModule    = errors.New("module rejected")
	ErrPersist      = errors.New("state could not be saved")
	// ErrWrongState: the slot's hardware refuses the action now (busy with
	// a hot-plug step, latch in the way...); the message says why.
	ErrWrongState = errors.New("slot is not in a state that allows this")
	// ErrUnknownFault: no fault kind by that name (see FaultKinds).
	ErrUnknownFault = errors.New("unknown fault kind")
	// ErrKernel: the in-band OS refused an operation; the message carries
	// the kernel's errno and reason (errors.As to *kernel.Error).
	ErrKernel = errors.New("kernel refused")
)

// Clock supplies time to the model. When it also implements clock.Clock
// (AfterFunc), the hardware's steps are scheduled on it: clock.Manual in
// tests, clock.Real{Speed: x} in `bmcemu serve`. A clock.Real is run as a
// paced discrete-event scheduler (see clock.Paced): timers fire in simulated
// deadline order, so host latency never reorders hardware steps at high
// speeds. A clock with only Now stamps events and logs while the steps run
// at real pace.
type Clock interface{ Now() time.Time }

// InventoryStore persists the physical inventory so it survives a restart.
type InventoryStore interface {
	LoadInventory() (*Inventory, error) // (nil, nil) when nothing was saved
	SaveInventory(*Inventory) error
}

// Inventory is the durable part of the platform: what is plugged where, and
// whether the host is powered.
type Inventory struct {
	Profile string `json:"profile"`
	PowerOn bool   `json:"power_on"`
	// ChangedAt is when the inventory last changed; surfaces that must keep
	// timestamps stable across restarts (the IPMI SDR repository) use it.
	ChangedAt time.Time              `json:"changed_at"`
	Modules   map[string]SavedModule `json:"modules"`
	// RASMode is the firmware's memory protection setting (kept in NVRAM
	// on a real server): set with SetRASMode, applied at the next boot.
	// Empty: the profile's mode.
	RASMode string `json:"ras_mode,omitempty"`
	// ECCLifetime is each seated module's lifetime ECC counters (Redfish
	// MemoryMetrics.LifeTime), which the BMC keeps across restarts; the
	// current period starts afresh at boot.
	ECCLifetime map[string]ecc.Counters `json:"ecc_lifetime,omitempty"`
	// BootOverride is the System Boot Options a BMC keeps in non-volatile
	// storage (see BootOverride). Nil in inventories saved before it
	// existed: no override.
	BootOverride *BootOverride `json:"boot_override,omitempty"`
	// Host is the host firmware's NVRAM (boot order, ...): nil in
	// inventories saved before it was kept.
	Host *HostNVRAM `json:"host,omitempty"`
	// CXLCards are the expanders seated in CXL slots, by slot.
	CXLCards map[string]cxl.DeviceSpec `json:"cxl_cards,omitempty"`
	// VMHost is a VM guest's hypervisor settings (virtio-mem
	// requested-size, balloon target, plugged pc-dimms); nil: the
	// profile's.
	VMHost *SavedVMHost `json:"vm_host,omitempty"`
}

// SavedModule is a module as the EEPROM carries it.
type SavedModule struct {
	SPD        []byte    `json:"spd"`
	InsertedAt time.Time `json:"inserted_at"`
}

// Options configure New.
type Options struct {
	// Clock defaults to clock.Real{Speed: 1}: hardware steps at real pace.
	// The field keeps the narrow Now-only type so callers with a simple
	// stamping clock still compile; pass a clock.Clock to drive the steps.
	Clock  Clock
	Store  InventoryStore
	Logger *slog.Logger
	// FaultSeed seeds the fault panel's random streams (which lane fails,
	// which bit sticks, how much noise).
	FaultSeed uint64
	// SMCTiming and FirmwareTiming override the layers' step durations
	// (zero fields take the layers' defaults).
	SMCTiming      smc.Timing
	FirmwareTiming firmware.Timing
	// Kernel overrides the OS's command line (block size, auto-online
	// policy, movable_node...). Clock, BareMetal and IOMem are set by the
	// platform from the firmware.
	Kernel kernel.Config
	// EventRing is how many recent records the platform keeps for
	// EventsSince (default 4096).
	EventRing int
	// HostTiming overrides the host's power and boot step durations
	// (zero fields take DefaultHostTiming's).
	HostTiming HostTiming
}

// Platform is one simulated server.
type Platform struct {
	prof   *profile.Profile
	slots  []smc.Slot
	byName map[string]int

	clock   clock.Clock
	store   InventoryStore
	bus     *events.Bus
	log     *slog.Logger
	faults  *smc.Faults
	ring    *eventRing
	console *hostConsole
	opts    Options
	// hw is the server's memory subsystem as the last POST built it (see
	// layers.go): replaced whole at every boot, read without a lock.
	hw     atomic.Pointer[layers]
	epochs atomic.Uint64
	// inst: processors, NICs, storage, fans, supplies (hardware.go)
	inst *installed

	// opMu serialises operator commands (check, save, act). Lock order:
	// opMu -> pubMu -> mu; layers are called without mu held.
	opMu sync.Mutex
	// pubMu serialises rebuild+publish so snapshots and records go out in
	// one order.
	pubMu sync.Mutex

	mu       sync.Mutex
	inserted []time.Time // when each slot's module was seated
	saved    map[string]SavedModule
	leds     []bool // slot identify LEDs, by slot index
	identify ChassisIdentify
	// identifySet counts SetChassisIdentify calls, so a timer from an
	// earlier one cannot darken a later setting.
	identifySet uint64
	powerOn     bool
	rasMode     string // the firmware setting for the next boot ("" = profile)
	appliedRAS  string // the setting the running boot applied
	nvram       HostNVRAM
	bios        BiosNVRAM
	secure      SecureBootNVRAM
	// secureCurrent: the running boot enforced secure boot.
	secureCurrent bool
	firmware      FirmwareNVRAM
	// postMemory is the memory the last POST found seated.
	postMemory uint64
	media      map[string]*MediaImage // virtual media, by device
	host       hostState
	boot       BootOverride
	changed    time.Time
	gen        uint64
	snap       *Snapshot

	modCache map[string]modCacheEntry // buildSnapshot's decoded modules; pubMu
	// vmHost is a VM guest's hypervisor state (vmguest.go).
	vmHost vmHost
	// cxlCards are the expanders seated in CXL slots (cxlhost.go): the
	// physical inventory, kept across boots and BMC restarts; mu.
	cxlCards map[string]cxl.DeviceSpec
}

// hybridClock stamps time with a caller's Now-only clock and schedules at
// real pace.
type hybridClock struct {
	Clock
	sched *clock.Paced
}

func (h hybridClock) AfterFunc(d time.Duration, f func()) clock.Timer { return h.sched.AfterFunc(d, f) }

// New builds the server described by prof, restoring the saved inventory
// from opts.Store when there is one, and boots it: SMC, firmware (POST:
// address map, SRAT/HMAT, UEFI memory map) and the kernel on that map.
func New(prof *profile.Profile, opts Options) (*Platform, error) {
	var clk clock.Clock
	switch c := opts.Clock.(type) {
	case nil:
		clk = clock.NewPaced(1)
	case clock.Real:
		clk = clock.NewPaced(c.Speed)
	case *clock.Real:
		clk = clock.NewPaced(c.Speed)
	case clock.Clock:
		clk = c
	default:
		clk = hybridClock{Clock: c, sched: clock.NewPaced(1)}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Platform{
		prof:    prof,
		byName:  map[string]int{},
		clock:   clk,
		store:   opts.Store,
		bus:     events.NewBus(opts.Logger),
		log:     opts.Logger,
		faults:  smc.NewFaults(opts.FaultSeed),
		ring:    newEventRing(opts.EventRing),
		opts:    opts,
		console: newHostConsole(),
		media:   map[string]*MediaImage{},
		// The identify LED is dark at power-up.
		identify: ChassisIdentify{State: IdentifyOff},
		inst:     newInstalled(prof),
	}
	p.slots = smc.Topology(prof.Memory)
	for i, s := range p.slots {
		p.byName[s.Name] = i
	}
	p.inserted = make([]time.Time, len(p.slots))
	p.leds = make([]bool, len(p.slots))

	var inv *Inventory
	if opts.Store != nil {
		var err error
		if inv, err = opts.Store.LoadInventory(); err != nil {
			return nil, fmt.Errorf("platform: load inventory: %w", err)
		}
	}
	var boot map[string]SavedModule
	fresh := false
	if inv != nil && inv.Profile == prof.Name {
		var err error
		if boot, err = p.restore(inv); err != nil {
			return nil, fmt.Errorf("platform: restore inventory: %w", err)
		}
		p.log.Info("inventory restored", "profile", prof.Name, "modules", len(inv.Modules))
	} else {
		if inv != nil {
			p.log.Warn("saved inventory belongs to another profile; starting from the profile", "saved", inv.Profile, "profile", prof.Name)
		}
		var err error
		if boot, err = p.populate(); err != nil {
			return nil, err
		}
		fresh = true
	}
	var lifetimes map[string]ecc.Counters
	if inv != nil && inv.Profile == prof.Name {
		lifetimes = inv.ECCLifetime
	}
	l, err := p.assemble(boot, lifetimes, p.bootRASMode())
	if err != nil {
		return nil, err
	}
	p.hw.Store(l)
	p.initHost()
	if !p.powerOn {
		// An unpowered host runs nothing.
		l.dead.Store(true)
	}
	p.saved = boot
	if fresh && p.store != nil {
		if err := p.store.SaveInventory(p.inventory(boot, p.powerOn, p.changed)); err != nil {
			return nil, fmt.Errorf("platform: %w: %w", ErrPersist, err)
		}
	}
	p.snap = p.buildSnapshot(0)
	p.startedBooted(boot)
	p.activateBMCFirmware()
	p.publish(p.clock.Now(), l.ras.applied())
	return p, nil
}

// build wires the layers and boots the kernel.
func (p *Platform) build(l *layers, boot map[string]SavedModule) error {
	pub := layerPublisher{p: p, l: l}
	opts := p.opts
	images := make(map[string][]byte, len(boot))
	for name, m := range boot {
		images[name] = m.SPD
	}
	ctl, err := smc.New(smc.Config{Memory: p.prof.Memory, Timing: opts.SMCTiming, Clock: l.clk, Publisher: pub,
		Faults: p.faults, Boot: images})
	if err != nil {
		return fmt.Errorf("platform: smc: %w", err)
	}
	fw, err := firmware.New(firmware.Config{Memory: p.prof.Memory, Clock: l.clk, Hardware: ctl, Publisher: pub,
		Faults: p.faults, Timing: opts.FirmwareTiming, Redundancy: l.ras, CXL: cxlHostBridges(p.prof),
		ReservePerSlot: uint64(p.prof.ReservePerSlotGiB()) << 30, AddressBits: p.prof.AddressBits()})
	var space *firmware.AddressSpaceError
	if errors.As(err, &space) {
		// The profile asked for more than the address width holds: say so
		// about the field, as `profile check` does.
		field := "modules"
		if space.Reservation {
			field = "hotplug.reserve_per_slot_gib"
		}
		return p.prof.FieldError(field, strings.TrimPrefix(space.Error(), "firmware: "))
	}
	if err != nil {
		return fmt.Errorf("platform: firmware: %w", err)
	}
	kcfg := opts.Kernel
	kcfg.Clock = l.clk
	kcfg.BareMetal = !p.prof.IsGuest()
	if kcfg.NodeCPUs == nil {
		// The SRAT puts socket s's logical CPUs in node s.
		kcfg.NodeCPUs = map[int]int{}
		for s, c := range p.prof.Hardware.Resolved(p.prof.Memory).Processors {
			kcfg.NodeCPUs[s] = c.Threads
		}
	}
	ranges, iomem := bootMemoryMap(fw)
	kcfg.IOMem = append(iomem, kcfg.IOMem...)
	kcfg.IOMem = append(kcfg.IOMem, cxlWindowResources(fw)...)
	vcfg, err := p.guestLayout(&kcfg, ranges)
	if err != nil {
		return err
	}
	k, err := kernel.Boot(kcfg, ranges)
	if err != nil {
		return fmt.Errorf("platform: kernel: %w", err)
	}
	for _, prm := range fw.MemmapParams() {
		k.Printk(kernel.KernInfo, "Kernel command line: %s", prm)
	}
	// efi_find_mirror(): address-range mirroring's reliable memory.
	var mirrored, total uint64
	for _, d := range fw.EFIMemoryMap() {
		if d.Type == firmware.EfiConventionalMemory {
			total += d.Range().Length
			if d.Attribute&firmware.EFIMemoryMoreReliable != 0 {
				mirrored += d.Range().Length
			}
		}
	}
	if mirrored > 0 {
		k.Printk(kernel.KernInfo, "Memory: %dM/%dM mirrored memory", mirrored>>20, total>>20)
	}
	l.smc, l.fw, l.kern = ctl, fw, k
	l.ospm = newACPIMemhotplug(p, l, fw)
	if p.prof.HasCXL() {
		if l.cxl, err = p.buildCXL(l); err != nil {
			return err
		}
	}
	if vcfg != nil {
		if err := p.buildGuest(l, *vcfg, boot); err != nil {
			return err
		}
	}
	ctl.SetNotifier(fw)
	ctl.SetAddressSpace(fw)
	fw.SetOSPM(l.ospm)
	return nil
}

// bootMemoryMap turns the firmware's UEFI memory map into what the kernel
// boots on: conventional memory as usable RAM on the node of the socket it
// belongs to, and everything else as /proc/iomem resources. The hot-plug
// reservations (EFI_MEMORY_HOT_PLUGGABLE, held back by memmap=) are
// non-busy "Reserved" resources, so hot-added System RAM can nest in them,
// as with e820 reserved ranges above 1 MiB in Linux.
func bootMemoryMap(fw *firmware.Firmware) ([]kernel.Range, []kernel.Resource) {
	layout := fw.Layout()
	nodeOf := func(r firmware.Range) int {
		for s, rs := range layout.Boot {
			for _, b := range rs {
				if b.Contains(r) {
					return s
				}
			}
		}
		return 0
	}
	var ranges []kernel.Range
	var res []kernel.Resource
	for _, d := range fw.EFIMemoryMap() {
		r := d.Range()
		end := r.End() - 1
		switch {
		case d.Type == firmware.EfiConventionalMemory:
			ranges = append(ranges, kernel.Range{Start: r.Base, Size: r.Length, Node: nodeOf(r)})
		case d.Type == firmware.EfiMemoryMappedIO:
			res = append(res, kernel.Resource{Start: r.Base, End: end, Name: "PCI Bus 0000:00"})
		case d.Attribute&firmware.EFIMemoryHotPluggable != 0:
			res = append(res, kernel.Resource{Start: r.Base, End: end, Name: "Reserved"})
		case d.Type == firmware.EfiACPIReclaimMemory:
			res = append(res, kernel.Resource{Start: r.Base, End: end, Name: "ACPI Tables", Busy: true})
		case d.Type == firmware.EfiACPIMemoryNVS:
			res = append(res, kernel.Resource{Start: r.Base, End: end, Name: "ACPI Non-volatile Storage", Busy: true})
		default:
			res = append(res, kernel.Resource{Start: r.Base, End: end, Name: "Reserved", Busy: true})
		}
	}
	return ranges, res
}

func (p *Platform) populate() (map[string]SavedModule, error) {
	now := p.clock.Now()
	p.powerOn = true
	p.changed = now
	p.boot = defaultBootOverride()
	p.nvram = restoredNVRAM(nil)
	p.bios = p.restoredBios(nil)
	p.secure = defaultSecureBoot()
	boot := map[string]SavedModule{}
	for i, d := range p.slots {
		pm, ok := p.prof.ModuleFor(d.Name)
		if !ok {
			continue
		}
		img, err := spd.Encode(p.prof.ModuleSpec(pm, p.serialFor(d.Name)))
		if err != nil {
			return nil, fmt.Errorf("platform: slot %s: %w", d.Name, err)
		}
		if _, err := decodeModule(img, now); err != nil {
			return nil, fmt.Errorf("platform: slot %s: %w", d.Name, err)
		}
		boot[d.Name] = SavedModule{SPD: img, InsertedAt: now}
		p.inserted[i] = now
	}
	return boot, nil
}

func (p *Platform) restore(inv *Inventory) (map[string]SavedModule, error) {
	p.powerOn = inv.PowerOn
	p.changed = inv.ChangedAt
	p.rasMode = inv.RASMode
	p.cxlCards = p.restoredCXLCards(inv.CXLCards)
	p.vmHost = p.restoredVMHost(inv.VMHost)
	p.boot = restoredBootOverride(inv.BootOverride)
	p.nvram = restoredNVRAM(inv.Host)
	p.bios, p.secure = p.restoredBios(nil), defaultSecureBoot()
	if h := inv.Host; h != nil {
		p.bios, p.secure = p.restoredBios(h.Bios), restoredSecureBoot(h.SecureBoot)
		if h.Firmware != nil {
			p.firmware = *h.Firmware
		}
	}
	boot := map[string]SavedModule{}
	for name, sm := range inv.Modules {
		i, ok := p.byName[name]
		if !ok {
			return nil, fmt.Errorf("slot %q: %w", name, ErrUnknownSlot)
		}
		if _, err := decodeModule(sm.SPD, sm.InsertedAt); err != nil {
			return nil, fmt.Errorf("slot %s: %w", name, err)
		}
		boot[name] = sm
		p.inserted[i] = sm.InsertedAt
	}
	return boot, nil
}

// serialFor derives a stable per-part serial so two servers built from the
// same profile still have distinct modules.
func (p *Platform) serialFor(slot string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(p.prof.System.SerialNumber))
	h.Write([]byte{0})
	h.Write([]byte(slot))
	return h.Sum32()
}

func decodeModule(img []byte, at time.Time) (*Module, error) {
	m, err := spd.Decode(img)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadModule, err)
	}
	return &Module{SPD: m, Image: slices.Clone(img), InsertedAt: at}, nil
}

// Profile returns the profile the server was built from.
func (p *Platform) Profile() *profile.Profile { return p.prof }

// Subscribe returns an ordered feed of platform events.
func (p *Platform) Subscribe(name string, depth int) *events.Subscription {
	return p.bus.Subscribe(name, depth)
}

// Handle calls fn with every event in order, on a goroutine that runs only
// while events wait (see events.Bus.Handle): the way to consume the stream
// at no cost while the server is quiet.
func (p *Platform) Handle(name string, depth int, fn func(events.Record)) *events.Handler {
	return p.bus.Handle(name, depth, fn)
}

// Snapshot returns the current state. Snapshots are immutable and shared:
// callers must not modify them.
func (p *Platform) Snapshot() *Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snap
}

// NewModuleSpec fills a module spec with the board's defaults for whatever
// the caller left zero, and a serial derived from the slot.
func (p *Platform) NewModuleSpec(slot string, s spd.Spec) spd.Spec {
	if s.Type == "" {
		s.Type = p.prof.Memory.Type
	}
	if s.BaseModule == "" {
		s.BaseModule = spd.RDIMM
	}
	if s.CapacityGiB == 0 {
		s.CapacityGiB = 32
	}
	if s.Ranks == 0 {
		s.Ranks = 1
		if s.CapacityGiB > 32 {
			s.Ranks = 2
		}
	}
	if s.SpeedMTs == 0 {
		s.SpeedMTs = p.prof.Memory.SpeedMTs
	}
	if s.Manufacturer == "" {
		s.Manufacturer = "Samsung"
	}
	if s.SerialNumber == 0 {
		h := fnv.New32a()
		h.Write([]byte(p.prof.System.SerialNumber))
		h.Write([]byte(slot))
		h.Write([]byte(p.clock.Now().Format(time.RFC3339Nano)))
		s.SerialNumber = h.Sum32()
	}
	if s.ManufactureYW == 0 {
		s.ManufactureYW = 0x2540
	}
	return s
}

// publish rebuilds the snapshot so it reflects what e reports, then sends e
// to subscribers and the ring. Callers hold no platform lock but may hold
// opMu.
func (p *Platform) publish(at time.Time, e events.Event) events.Record {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	p.refreshLocked()
	r := p.bus.Publish(at, e)
	p.ring.add(r)
	return r
}

// refresh rebuilds the snapshot after a change no event reports.
func (p *Platform) refresh() {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	p.refreshLocked()
}

// refreshLocked needs pubMu.
func (p *Platform) refreshLocked() {
	p.mu.Lock()
	p.gen++
	gen := p.gen
	p.mu.Unlock()
	if p.l() == nil {
		// New is still building the first boot's layers (a VM's saved
		// pc-dimms are plugged as they come up): New composes the first
		// snapshot once they are in place.
		return
	}
	s := p.buildSnapshot(gen)
	p.mu.Lock()
	p.snap = s
	p.mu.Unlock()
}

// inventory builds the saved form of a module set.
func (p *Platform) inventory(mods map[string]SavedModule, power bool, changed time.Time) *Inventory {
	p.mu.Lock()
	mode := p.rasMode
	boot := p.boot
	nv := restoredNVRAM(&p.nvram)
	bios, sb, fw := p.bios.clone(), p.secure, p.firmware
	nv.Bios, nv.SecureBoot, nv.Firmware = &bios, &sb, &fw
	cards := p.cxlCardsCopy()
	vmh := p.vmHost.saved()
	p.mu.Unlock()
	inv := &Inventory{Profile: p.prof.Name, PowerOn: power, ChangedAt: changed, Modules: make(map[string]SavedModule, len(mods)),
		RASMode: mode, BootOverride: &boot, Host: &nv, CXLCards: cards, VMHost: vmh}
	if cur := p.l(); cur != nil {
		slots := make([]string, 0, len(mods))
		for k := range mods {
			slots = append(slots, k)
		}
		if l := cur.ras.lifetimes(slots); len(l) > 0 {
			inv.ECCLifetime = l
		}
	}
	for k, v := range mods {
		inv.Modules[k] = v
	}
	return inv
}

// save writes a new module set / power state; only when it is on disk does
// the platform act on it. Caller holds opMu.
func (p *Platform) save(mods map[string]SavedModule, power bool) error {
	now := p.clock.Now()
	if p.store != nil {
		if err := p.store.SaveInventory(p.inventory(mods, power, now)); err != nil {
			return fmt.Errorf("%w: %w", ErrPersist, err)
		}
	}
	p.mu.Lock()
	p.saved, p.powerOn, p.changed = mods, power, now
	p.mu.Unlock()
	return nil
}

// hold keeps a paced clock's timers from firing during a command.
func (p *Platform) hold() func() {
	switch c := p.clock.(type) {
	case *clock.Paced:
		return c.Hold()
	case hybridClock:
		return c.sched.Hold()
	}
	return func() {}
}

func (p *Platform) slotIndex(op, slot string) (int, error) {
	i, ok := p.byName[slot]
	if !ok {
		return 0, fmt.Errorf("%s %q: %w", op, slot, ErrUnknownSlot)
	}
	return i, nil
}

// Insert seats a module carrying the SPD image img in slot and closes the
// latch on it: the operator's whole physical action. The SMC takes it from
// there (isolation if the attention step was skipped, with bus noise on
// the channel's neighbours; SPD read and checks; power ramp; SCI), then the
// firmware (training, TAD, SRAT, _OST) and the kernel (add_memory,
// onlining). Insert returns once the module is seated; follow the hot-add
// through Subscribe, EventsSince or Snapshot (Slot.State).
func (p *Platform) Insert(slot string, img []byte) (*Module, error) {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	defer p.hold()()
	i, err := p.slotIndex("insert into", slot)
	if err != nil {
		return nil, err
	}
	if err := p.needOS("insert into " + slot); err != nil {
		if !errors.Is(err, ErrHostOff) {
			return nil, err
		}
		return p.coldInsert(i, slot, img)
	}
	st, err := p.l().smc.Status(slot)
	if err != nil {
		return nil, fmt.Errorf("insert into %s: %w", slot, ErrUnknownSlot)
	}
	if st.Present {
		cur, _ := p.l().smc.Image(slot)
		serial := "?"
		if m, err := spd.Decode(cur); err == nil {
			serial = m.SerialNumber
		}
		return nil, fmt.Errorf("insert into %s: %w (holds %s)", slot, ErrSlotOccupied, serial)
	}
	now := p.clock.Now()
	mod, err := decodeModule(img, now)
	if err != nil {
		return nil, fmt.Errorf("insert into %s: %w", slot, err)
	}
	p.mu.Lock()
	mods := maps(p.saved)
	power := p.powerOn
	p.mu.Unlock()
	mods[slot] = SavedModule{SPD: mod.Image, InsertedAt: now}
	if err := p.save(mods, power); err != nil {
		return nil, fmt.Errorf("insert into %s: %w", slot, err)
	}
	p.mu.Lock()
	p.inserted[i] = now
	p.mu.Unlock()
	if err := p.l().smc.OpenLatch(slot); err != nil {
		return nil, p.undoInsert(slot, err)
	}
	if err := p.l().smc.Insert(slot, img); err != nil {
		return nil, p.undoInsert(slot, err)
	}
	p.publish(p.clock.Now(), events.ModuleInserted{Slot: slot, Module: mod.SPD})
	if err := p.l().smc.CloseLatch(slot); err != nil {
		return mod, fmt.Errorf("insert into %s: close latch: %w", slot, hwErr(err))
	}
	return mod, nil
}

// undoInsert puts the saved inventory back after the hardware refused.
func (p *Platform) undoInsert(slot string, cause error) error {
	p.mu.Lock()
	mods := maps(p.saved)
	power := p.powerOn
	p.mu.Unlock()
	delete(mods, slot)
	if err := p.save(mods, power); err != nil {
		p.log.Error("could not undo the saved insertion", "slot", slot, "err", err)
	}
	p.refresh()
	return fmt.Errorf("insert into %s: %w", slot, hwErr(cause))
}

// Remove pulls the module out of slot: the latch is opened and the module
// comes out. Pulled from a slot the SMC isolated (after an eject: press
// attention first, see PressAttention), it is the safe path; pulled while
// powered it is a surprise removal.
func (p *Platform) Remove(slot string) (*Module, error) {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	defer p.hold()()
	i, err := p.slotIndex("remove from", slot)
	if err != nil {
		return nil, err
	}
	if err := p.needOS("remove from " + slot); err != nil {
		if !errors.Is(err, ErrHostOff) {
			return nil, err
		}
		return p.coldRemove(i, slot)
	}
	img, _ := p.l().smc.Image(slot)
	if img == nil {
		return nil, fmt.Errorf("remove from %s: %w", slot, ErrSlotEmpty)
	}
	p.mu.Lock()
	at := p.inserted[i]
	mods := maps(p.saved)
	power := p.powerOn
	p.mu.Unlock()
	mod, err := decodeModule(img, at)
	if err != nil {
		mod = &Module{Image: img, InsertedAt: at}
	}
	delete(mods, slot)
	if err := p.save(mods, power); err != nil {
		return nil, fmt.Errorf("remove from %s: %w", slot, err)
	}
	if err := p.l().smc.OpenLatch(slot); err != nil {
		return nil, fmt.Errorf("remove from %s: %w", slot, hwErr(err))
	}
	if _, err := p.l().smc.Remove(slot); err != nil {
		return nil, fmt.Errorf("remove from %s: %w", slot, hwErr(err))
	}
	p.mu.Lock()
	p.inserted[i] = time.Time{}
	p.mu.Unlock()
	p.l().ras.forget(slot)
	p.publish(p.clock.Now(), events.ModuleRemoved{Slot: slot, Module: mod.SPD})
	return mod, nil
}

// SetLocationIndicator lights or darkens a slot's identify LED. LEDs are
// volatile, as on real boards: they are not saved and are dark after a restart.
func (p *Platform) SetLocationIndicator(slot string, on bool) error {
	i, err := p.slotIndex("location indicator of", slot)
	if err != nil {
		return err
	}
	p.opMu.Lock()
	defer p.opMu.Unlock()
	p.mu.Lock()
	if p.leds[i] == on {
		p.mu.Unlock()
		return nil
	}
	p.leds[i] = on
	p.mu.Unlock()
	p.publish(p.clock.Now(), events.LocationIndicatorChanged{Slot: slot, On: on})
	return nil
}

// Chassis identify LED states: Redfish IndicatorLED's values, which IPMI
// Chassis Identify maps onto (an interval blinks, Force Identify On lights).
const (
	IdentifyOff      = "Off"
	IdentifyLit      = "Lit"
	IdentifyBlinking = "Blinking"
)

// ErrIdentifyState is an identify LED state other than the three above.
var ErrIdentifyState = errors.New("unknown identify LED state")

// ChassisIdentify is the chassis (front panel) identify LED.
type ChassisIdentify struct {
	State string `json:"state"`
	// Until is when a timed identify goes dark by itself; zero while it
	// stays as set.
	Until time.Time `json:"until,omitzero"`
}

// SetChassisIdentify sets the chassis identify LED. With d > 0 it goes
// dark by itself after d of simulated time (IPMI Chassis Identify's
// interval); with d == 0 it stays until changed. Volatile, like the slot
// LEDs: dark after a restart.
func (p *Platform) SetChassisIdentify(state string, d time.Duration) error {
	switch state {
	case IdentifyOff, IdentifyLit, IdentifyBlinking:
	default:
		return fmt.Errorf("chassis identify: %w %q", ErrIdentifyState, state)
	}
	if d < 0 {
		return fmt.Errorf("chassis identify: negative interval %s", d)
	}
	p.opMu.Lock()
	defer p.opMu.Unlock()
	now := p.clock.Now()
	next := ChassisIdentify{State: state}
	if d > 0 && state != IdentifyOff {
		next.Until = now.Add(d)
	}
	p.mu.Lock()
	p.identifySet++
	set := p.identifySet
	changed := p.identify != next
	p.identify = next
	p.mu.Unlock()
	if !next.Until.IsZero() {
		p.clock.AfterFunc(d, func() { p.expireIdentify(set) })
	}
	if changed {
		p.publish(now, events.ChassisIdentifyChanged{State: state, Seconds: int(d / time.Second)})
	}
	return nil
}

// expireIdentify darkens a timed identify, unless another setting came
// after the one whose timer this is.
func (p *Platform) expireIdentify(set uint64) {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	p.mu.Lock()
	if p.identifySet != set || p.identify.State == IdentifyOff {
		p.mu.Unlock()
		return
	}
	p.identify = ChassisIdentify{State: IdentifyOff}
	p.mu.Unlock()
	p.publish(p.clock.Now(), events.ChassisIdentifyChanged{State: IdentifyOff})
}

func maps(m map[string]SavedModule) map[string]SavedModule {
	out := make(map[string]SavedModule, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// hwErr maps the SMC's errors to the platform's.
func hwErr(err error) error {
	switch {
	case errors.Is(err, smc.ErrUnknownSlot):
		return fmt.Errorf("%w: %w", ErrUnknownSlot, err)
	case errors.Is(err, smc.ErrSlotOccupied):
		return fmt.Errorf("%w: %w", ErrSlotOccupied, err)
	case errors.Is(err, smc.ErrSlotEmpty):
		return fmt.Errorf("%w: %w", ErrSlotEmpty, err)
	case errors.Is(err, smc.ErrBusy), errors.Is(err, smc.ErrWrongState), errors.Is(err, smc.ErrLatchClosed):
		return fmt.Errorf("%w: %w", ErrWrongState, err)
	}
	return err
}
