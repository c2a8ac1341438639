// Package platform is the simulated server behind the BMC: its board, memory
// slots and modules, and the commands the physical world applies to them. It
// knows nothing of Redfish or IPMI. Surfaces read immutable snapshots and
// subscribe to the ordered event stream; they never hold a copy of the truth.
package platform

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// Typed errors; each surface maps them to its own error form.
var (
	ErrUnknownSlot  = errors.New("unknown slot")
	ErrSlotOccupied = errors.New("slot is occupied")
	ErrSlotEmpty    = errors.New("slot is empty")
	ErrBadModule    = errors.New("module rejected")
	ErrPersist      = errors.New("state could not be saved")
)

// Clock supplies time to the model; tests inject a fixed or stepped one.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

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
}

// SavedModule is a module as the EEPROM carries it.
type SavedModule struct {
	SPD        []byte    `json:"spd"`
	InsertedAt time.Time `json:"inserted_at"`
}

// Options configure New.
type Options struct {
	Clock  Clock
	Store  InventoryStore
	Logger *slog.Logger
}

// Platform is one simulated server.
type Platform struct {
	mu      sync.Mutex
	prof    *profile.Profile
	slots   []slotDef
	byName  map[string]int
	modules []*Module // by slot index; nil when empty
	leds    []bool    // slot identify LEDs, by slot index
	powerOn bool
	changed time.Time
	gen     uint64
	snap    *Snapshot

	clock Clock
	store InventoryStore
	bus   *events.Bus
	log   *slog.Logger
}

type slotDef struct {
	name                                      string
	socket, controller, channel, pos, ordinal int
}

// New builds the server described by prof, restoring the saved inventory
// from opts.Store when there is one.
func New(prof *profile.Profile, opts Options) (*Platform, error) {
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Platform{
		prof:   prof,
		byName: map[string]int{},
		clock:  opts.Clock,
		store:  opts.Store,
		bus:    events.NewBus(opts.Logger),
		log:    opts.Logger,
	}
	m := prof.Memory
	chPerSocket := m.ControllersPerSocket * m.ChannelsPerController
	for s := 0; s < m.Sockets; s++ {
		for ch := 0; ch < chPerSocket; ch++ {
			for pos := 1; pos <= m.SlotsPerChannel; pos++ {
				d := slotDef{
					name: profile.SlotName(s, ch, pos), socket: s,
					controller: ch / m.ChannelsPerController, channel: ch,
					pos: pos, ordinal: len(p.slots),
				}
				p.byName[d.name] = len(p.slots)
				p.slots = append(p.slots, d)
			}
		}
	}
	p.modules = make([]*Module, len(p.slots))
	p.leds = make([]bool, len(p.slots))

	var inv *Inventory
	if opts.Store != nil {
		var err error
		if inv, err = opts.Store.LoadInventory(); err != nil {
			return nil, fmt.Errorf("platform: load inventory: %w", err)
		}
	}
	if inv != nil && inv.Profile == prof.Name {
		if err := p.restore(inv); err != nil {
			return nil, fmt.Errorf("platform: restore inventory: %w", err)
		}
		p.log.Info("inventory restored", "profile", prof.Name, "modules", len(inv.Modules))
	} else {
		if inv != nil {
			p.log.Warn("saved inventory belongs to another profile; starting from the profile", "saved", inv.Profile, "profile", prof.Name)
		}
		if err := p.populate(); err != nil {
			return nil, err
		}
		if p.store != nil {
			if err := p.store.SaveInventory(p.inventoryLocked()); err != nil {
				return nil, fmt.Errorf("platform: %w: %w", ErrPersist, err)
			}
		}
	}
	p.snap = p.buildSnapshot()
	return p, nil
}

func (p *Platform) populate() error {
	now := p.clock.Now()
	p.powerOn = true
	p.changed = now
	for i, d := range p.slots {
		pm, ok := p.prof.ModuleFor(d.name)
		if !ok {
			continue
		}
		img, err := spd.Encode(p.prof.ModuleSpec(pm, p.serialFor(d.name)))
		if err != nil {
			return fmt.Errorf("platform: slot %s: %w", d.name, err)
		}
		mod, err := decodeModule(img, now)
		if err != nil {
			return fmt.Errorf("platform: slot %s: %w", d.name, err)
		}
		p.modules[i] = mod
	}
	return nil
}

func (p *Platform) restore(inv *Inventory) error {
	p.powerOn = inv.PowerOn
	p.changed = inv.ChangedAt
	for name, sm := range inv.Modules {
		i, ok := p.byName[name]
		if !ok {
			return fmt.Errorf("slot %q: %w", name, ErrUnknownSlot)
		}
		mod, err := decodeModule(sm.SPD, sm.InsertedAt)
		if err != nil {
			return fmt.Errorf("slot %s: %w", name, err)
		}
		p.modules[i] = mod
	}
	return nil
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

// Insert seats a module carrying the SPD image img in slot.
func (p *Platform) Insert(slot string, img []byte) (*Module, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i, ok := p.byName[slot]
	if !ok {
		return nil, fmt.Errorf("insert into %q: %w", slot, ErrUnknownSlot)
	}
	if p.modules[i] != nil {
		return nil, fmt.Errorf("insert into %s: %w (holds %s)", slot, ErrSlotOccupied, p.modules[i].SPD.SerialNumber)
	}
	now := p.clock.Now()
	mod, err := decodeModule(img, now)
	if err != nil {
		return nil, fmt.Errorf("insert into %s: %w", slot, err)
	}
	if err := p.commit(func() { p.modules[i] = mod }, func() { p.modules[i] = nil }); err != nil {
		return nil, fmt.Errorf("insert into %s: %w", slot, err)
	}
	p.bus.Publish(now, events.ModuleInserted{Slot: slot, Module: mod.SPD})
	return mod, nil
}

// Remove pulls the module out of slot.
func (p *Platform) Remove(slot string) (*Module, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i, ok := p.byName[slot]
	if !ok {
		return nil, fmt.Errorf("remove from %q: %w", slot, ErrUnknownSlot)
	}
	mod := p.modules[i]
	if mod == nil {
		return nil, fmt.Errorf("remove from %s: %w", slot, ErrSlotEmpty)
	}
	if err := p.commit(func() { p.modules[i] = nil }, func() { p.modules[i] = mod }); err != nil {
		return nil, fmt.Errorf("remove from %s: %w", slot, err)
	}
	p.bus.Publish(p.clock.Now(), events.ModuleRemoved{Slot: slot, Module: mod.SPD})
	return mod, nil
}

// SetPower turns the host on or off. Turning it to the state it is already in
// is not an error, as on a real chassis.
func (p *Platform) SetPower(on bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.powerOn == on {
		return nil
	}
	if err := p.commit(func() { p.powerOn = on }, func() { p.powerOn = !on }); err != nil {
		return fmt.Errorf("set power: %w", err)
	}
	p.bus.Publish(p.clock.Now(), events.PowerChanged{On: on})
	return nil
}

// commit applies a change, saves it, and only then makes it visible; when the
// save fails the change is undone so memory and disk never disagree.
// Caller holds p.mu.
func (p *Platform) commit(apply, undo func()) error {
	prev := p.changed
	apply()
	p.changed = p.clock.Now()
	if p.store != nil {
		if err := p.store.SaveInventory(p.inventoryLocked()); err != nil {
			undo()
			p.changed = prev
			return fmt.Errorf("%w: %w", ErrPersist, err)
		}
	}
	p.gen++
	p.snap = p.buildSnapshot()
	return nil
}

func (p *Platform) inventoryLocked() *Inventory {
	inv := &Inventory{Profile: p.prof.Name, PowerOn: p.powerOn, ChangedAt: p.changed, Modules: map[string]SavedModule{}}
	for i, m := range p.modules {
		if m != nil {
			inv.Modules[p.slots[i].name] = SavedModule{SPD: m.Image, InsertedAt: m.InsertedAt}
		}
	}
	return inv
}

// SetLocationIndicator lights or darkens a slot's identify LED. LEDs are
// volatile, as on real boards: they are not saved and are dark after a restart.
func (p *Platform) SetLocationIndicator(slot string, on bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	i, ok := p.byName[slot]
	if !ok {
		return fmt.Errorf("location indicator of %q: %w", slot, ErrUnknownSlot)
	}
	if p.leds[i] == on {
		return nil
	}
	p.leds[i] = on
	p.gen++
	p.snap = p.buildSnapshot()
	p.bus.Publish(p.clock.Now(), events.LocationIndicatorChanged{Slot: slot, On: on})
	return nil
}
