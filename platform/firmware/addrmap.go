package firmware

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/smc"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// Address-map constants.
const (
	GiB = uint64(1) << 30
	TiB = uint64(1) << 40

	// LowMMIOBase is the start of the 32-bit MMIO hole (PCI, LAPIC, IOAPIC,
	// flash) that ends at 4 GiB; DRAM that would sit there is remapped above.
	LowMMIOBase = uint64(0xC0000000)
	fourGiB     = uint64(1) << 32
	// HighMMIOSize is the size of the 64-bit PCI MMIO window placed after
	// the last socket's memory.
	HighMMIOSize = 256 * GiB
	// InterleaveGranularity is the channel interleave granularity.
	InterleaveGranularity = uint64(4096)
)

// Errors of the address map.
var (
	ErrNoAddressSpace = errors.New("firmware: no room in the socket's hot-plug reservation")
	ErrInvalidTAD     = errors.New("firmware: invalid target address decoder table")
)

// Range is a system physical address range.
type Range struct {
	Base   uint64 `json:"base"`
	Length uint64 `json:"length"`
}

// End is one past the last byte.
func (r Range) End() uint64 { return r.Base + r.Length }

// Overlaps reports whether r and o share a byte.
func (r Range) Overlaps(o Range) bool { return r.Base < o.End() && o.Base < r.End() }

// Contains reports whether o lies inside r.
func (r Range) Contains(o Range) bool { return o.Base >= r.Base && o.End() <= r.End() }

// String prints the range the way the kernel log does.
func (r Range) String() string {
	return fmt.Sprintf("[mem 0x%016x-0x%016x]", r.Base, r.End()-1)
}

// RegionKind classifies a region of the boot layout.
type RegionKind string

// Region kinds.
const (
	RegionMMIO    RegionKind = "MMIO"
	RegionRAM     RegionKind = "System RAM"
	RegionHotplug RegionKind = "Hot Pluggable"
)

// Region is a labelled range of the boot layout.
type Region struct {
	Range
	Kind   RegionKind `json:"kind"`
	Socket int        `json:"socket"` // -1 for MMIO
	Name   string     `json:"name"`
}

// Layout is the physical address layout fixed at boot: MMIO holes, each
// socket's boot RAM and each socket's hot-plug reservation (the ranges the
// `memmap=` parameters hold back and the UEFI map marks Hot Pluggable).
type Layout struct {
	Holes   []Region  `json:"holes"`
	Boot    [][]Range `json:"boot"`    // by socket
	Reserve [][]Range `json:"reserve"` // by socket
}

// Regions lists every region in address order.
func (l *Layout) Regions() []Region {
	out := slices.Clone(l.Holes)
	for s := range l.Boot {
		for _, r := range l.Boot[s] {
			out = append(out, Region{Range: r, Kind: RegionRAM, Socket: s, Name: fmt.Sprintf("node %d boot memory", s)})
		}
		for _, r := range l.Reserve[s] {
			out = append(out, Region{Range: r, Kind: RegionHotplug, Socket: s, Name: fmt.Sprintf("node %d hot-plug reservation", s)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Base < out[j].Base })
	return out
}

func alignUp(v, a uint64) uint64 { return (v + a - 1) / a * a }

// DefaultAddressBits is the physical address width of the platform when
// the profile names none (see profile.DefaultAddressBits).
const DefaultAddressBits = profile.DefaultAddressBits

// AddressSpaceError is a layout that does not fit below the platform's
// physical address width: the boot memory alone, or with the hot-plug
// reservation (Reservation true) and the 64-bit MMIO window after them.
type AddressSpaceError struct {
	Bits        int
	End         uint64 // one past the last byte the layout needs
	Boot        uint64 // boot memory, all sockets
	Reserve     uint64 // hot-plug reservations, all sockets
	Reservation bool   // the boot memory fits; the reservation does not
}

func (e *AddressSpaceError) Error() string {
	what := "boot memory"
	if e.Reservation {
		what = "hot-plug reservation"
	}
	return fmt.Sprintf("firmware: the %s does not fit below the %d-bit physical address space: %d GiB of boot memory, %d GiB reserved and the %d GiB 64-bit MMIO window end at %#x, past %#x",
		what, e.Bits, e.Boot/GiB, e.Reserve/GiB, HighMMIOSize/GiB, e.End, uint64(1)<<e.Bits)
}

// newLayout places each socket's boot memory then its reservation, in
// socket order, skipping the 32-bit MMIO hole, then the 64-bit MMIO
// window; all of it must end below 2^bits. Reservations start above 4 GiB,
// as real firmware keeps hot-plug ranges out of the low 4 GiB the 32-bit
// MMIO hole crowds, so each is one contiguous range.
func newLayout(bootBytes, reserveBytes []uint64, align uint64, bits int) (*Layout, error) {
	l := &Layout{Boot: make([][]Range, len(bootBytes)), Reserve: make([][]Range, len(bootBytes))}
	l.Holes = append(l.Holes, Region{Range: Range{LowMMIOBase, fourGiB - LowMMIOBase}, Kind: RegionMMIO, Socket: -1, Name: "PCI MMIO (32-bit)"})
	cursor := uint64(0)
	place := func(size uint64) []Range {
		var out []Range
		for size > 0 {
			if cursor >= LowMMIOBase && cursor < fourGiB {
				cursor = fourGiB
			}
			n := size
			if cursor < LowMMIOBase {
				n = min(size, LowMMIOBase-cursor)
			}
			out = append(out, Range{cursor, n})
			cursor += n
			size -= n
		}
		return out
	}
	var boot, reserve uint64
	limit := uint64(1) << bits
	for s := range bootBytes {
		boot += bootBytes[s]
		reserve += reserveBytes[s]
		if boot > limit || reserve > limit {
			break // place would wrap; the check below reports it
		}
		l.Boot[s] = place(bootBytes[s])
		cursor = alignUp(cursor, align)
		if reserveBytes[s] > 0 {
			cursor = max(cursor, fourGiB)
		}
		l.Reserve[s] = place(reserveBytes[s])
		cursor = alignUp(cursor, align)
	}
	base := alignUp(max(cursor, fourGiB), TiB)
	end := base + HighMMIOSize
	if boot > limit || reserve > limit {
		end = boot + reserve + HighMMIOSize // a lower bound: placing stopped
	}
	if end > limit {
		e := &AddressSpaceError{Bits: bits, End: end, Boot: boot, Reserve: reserve}
		if boot <= limit && reserve > 0 {
			if _, err := newLayout(bootBytes, make([]uint64, len(bootBytes)), align, bits); err == nil {
				e.Reservation = true
			}
		}
		return nil, e
	}
	l.Holes = append(l.Holes, Region{Range: Range{base, HighMMIOSize}, Kind: RegionMMIO, Socket: -1, Name: "PCI MMIO (64-bit)"})
	return l, nil
}

// Rule is one Target Address Decoder entry: a system address range decoded
// to one module (1-way) or striped over modules on different channels.
type Rule struct {
	Range
	Socket int `json:"socket"`
	// Targets are the slots the range is striped over, in way order.
	Targets     []string `json:"targets"`
	Granularity uint64   `json:"granularity,omitempty"` // stripe size when len(Targets) > 1
	// Phase is how many granules of the stripe come before Base, less
	// whole rows: the stripe of the rule starts at way Phase. A stripe
	// cut by the 32-bit MMIO hole resumes above 4 GiB at the way where it
	// stopped below it, because the memory controller decodes the DRAM
	// address with the hole taken out (Intel's TOLM/remap; AMD's legacy
	// MMIO hole, which Linux's drivers/ras/amd/atl adds back in
	// add_legacy_hole before it denormalises), so no stripe is lost at
	// the hole whatever the way count.
	Phase uint64 `json:"phase,omitempty"`
	// TargetOffset is where the rule starts in each target module's own
	// (DIMM) address space: for a stripe, the module offset of the row
	// the rule starts in.
	TargetOffset uint64 `json:"target_offset"`
	Hotplug      bool   `json:"hotplug"`
	// Lost are targets whose module was pulled without an eject
	// (AddressMap.Lose): their ways keep their place in the stripe until
	// reboot, and an access there reaches no module.
	Lost []string `json:"lost,omitempty"`
}

// lost reports whether target t of r is a lost way.
func (r Rule) lost(t string) bool { return len(r.Lost) > 0 && slices.Contains(r.Lost, t) }

// Ways is the interleave width.
func (r Rule) Ways() int { return len(r.Targets) }

// targetSpan is the part of target way i's own address space the rule
// decodes (ok false when the rule is too short to reach way i).
func (r Rule) targetSpan(i int) (Range, bool) {
	w := uint64(r.Ways())
	if w == 1 {
		return Range{r.TargetOffset, r.Length}, true
	}
	n := r.Length / r.Granularity
	first := r.Phase + (uint64(i)+w-r.Phase%w)%w
	if first >= r.Phase+n {
		return Range{}, false
	}
	last := first + (r.Phase+n-1-first)/w*w
	return Range{r.TargetOffset + first/w*r.Granularity, (last/w - first/w + 1) * r.Granularity}, true
}

// ControllerMode is the interleave state of one memory controller.
type ControllerMode struct {
	Socket      int  `json:"socket"`
	Controller  int  `json:"controller"`
	Interleaved bool `json:"interleaved"`
	// MapOut has a bit per channel of the socket (A = bit 0) for the
	// controller's channels taken out of the socket's interleave set.
	MapOut uint32 `json:"map_out"`
}

// InterleaveSet is a group of a socket's channels whose boot modules are
// striped together, or one channel laid linearly (Ways 1): the firmware's
// memory map as `profile check` and `ctl memmap` print it.
type InterleaveSet struct {
	Socket   int      `json:"socket"`
	Ways     int      `json:"ways"`
	Channels []string `json:"channels"` // silkscreen letters
	Modules  []string `json:"modules"`  // the boot modules decoded, by position then way
	Bytes    uint64   `json:"bytes"`
	Ranges   []Range  `json:"ranges"` // where the set decodes
	// Why a set is laid linearly rather than interleaved: "map-out" (its
	// controller left the interleave after a hot-add broke its channel
	// symmetry) or "mirrored" (address-range mirroring's reliable range).
	Linear string `json:"linear,omitempty"`
}

// TAD is a complete decoder table. Tables are immutable once built; the
// firmware swaps a new one in only after it validates.
type TAD struct {
	Generation  uint64           `json:"generation"`
	Rules       []Rule           `json:"rules"`
	Controllers []ControllerMode `json:"controllers"`
	// Sets are the boot interleave sets, by socket.
	Sets []InterleaveSet `json:"sets"`
}

// Decode finds which module and module offset serve system address addr.
func (t *TAD) Decode(addr uint64) (slot string, offset uint64, ok bool) {
	i := sort.Search(len(t.Rules), func(i int) bool { return t.Rules[i].End() > addr })
	if i == len(t.Rules) || addr < t.Rules[i].Base {
		return "", 0, false
	}
	r := t.Rules[i]
	off := addr - r.Base
	if r.Ways() == 1 {
		return r.Targets[0], r.TargetOffset + off, !r.lost(r.Targets[0])
	}
	chunk := r.Phase + off/r.Granularity
	w := uint64(r.Ways())
	tg := r.Targets[chunk%w]
	return tg, r.TargetOffset + chunk/w*r.Granularity + off%r.Granularity, !r.lost(tg)
}

// Encode is Decode's inverse: the system address that module offset
// offset of slot decodes from, if any rule maps it. A lost way (Rule.Lost)
// maps nothing: a module seated in its slot since is not that memory.
func (t *TAD) Encode(slot string, offset uint64) (uint64, bool) {
	for _, r := range t.Rules {
		for i, tg := range r.Targets {
			if tg != slot || r.lost(tg) {
				continue
			}
			span, ok := r.targetSpan(i)
			if !ok || offset < span.Base || offset >= span.End() {
				continue
			}
			if r.Ways() == 1 {
				return r.Base + offset - r.TargetOffset, true
			}
			w := uint64(r.Ways())
			row := (offset - r.TargetOffset) / r.Granularity
			chunk := row*w + uint64(i)
			return r.Base + (chunk-r.Phase)*r.Granularity + (offset-r.TargetOffset)%r.Granularity, true
		}
	}
	return 0, false
}

// RulesFor returns the rules that decode to slot (not the ways of a module
// lost from it).
func (t *TAD) RulesFor(slot string) []Rule {
	var out []Rule
	for _, r := range t.Rules {
		if slices.Contains(r.Targets, slot) && !r.lost(slot) {
			out = append(out, r)
		}
	}
	return out
}

// Validate checks a table against the layout and the installed modules
// (slot -> capacity in bytes, with each slot's socket in sockets):
// rules sorted and disjoint, clear of MMIO, inside their socket's boot RAM
// or hot-plug reservation (hot-plug rules only in the reservation), stripes
// whole granules, and every module's own address space covered exactly once.
func (t *TAD) Validate(l *Layout, modules map[string]uint64, sockets map[string]int) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidTAD, fmt.Sprintf(format, a...))
	}
	cover := map[string][]Range{}
	for i, r := range t.Rules {
		if r.Length == 0 || r.End() < r.Base {
			return bad("rule %d %v is empty or wraps", i, r.Range)
		}
		if i > 0 && t.Rules[i-1].End() > r.Base {
			return bad("rule %d %v overlaps or precedes rule %d %v", i, r.Range, i-1, t.Rules[i-1].Range)
		}
		for _, h := range l.Holes {
			if h.Overlaps(r.Range) {
				return bad("rule %d %v overlaps %s %v", i, r.Range, h.Name, h.Range)
			}
		}
		if r.Socket < 0 || r.Socket >= len(l.Boot) {
			return bad("rule %d names socket %d", i, r.Socket)
		}
		inside := false
		for _, p := range l.Reserve[r.Socket] {
			inside = inside || p.Contains(r.Range)
		}
		if !r.Hotplug {
			for _, p := range l.Boot[r.Socket] {
				inside = inside || p.Contains(r.Range)
			}
		}
		if !inside {
			return bad("rule %d %v (hotplug=%v) is outside socket %d's memory window", i, r.Range, r.Hotplug, r.Socket)
		}
		w := uint64(r.Ways())
		switch {
		case w == 0:
			return bad("rule %d has no targets", i)
		case w == 1 && r.Phase != 0:
			return bad("rule %d: a 1-way rule with phase %d", i, r.Phase)
		case w > 1 && (r.Granularity == 0 || r.Length%r.Granularity != 0 || r.Phase >= w):
			return bad("rule %d: %d bytes from way %d do not stripe in whole %d-byte granules over %d ways", i, r.Length, r.Phase, r.Granularity, w)
		}
		for k, tg := range r.Targets {
			if r.lost(tg) {
				continue // no module behind it (AddressMap.Lose)
			}
			if _, ok := modules[tg]; !ok {
				return bad("rule %d targets %s, which holds no module", i, tg)
			}
			if sockets[tg] != r.Socket {
				return bad("rule %d of socket %d targets %s on socket %d", i, r.Socket, tg, sockets[tg])
			}
			if span, ok := r.targetSpan(k); ok {
				cover[tg] = append(cover[tg], span)
			}
		}
	}
	for slot, capacity := range modules {
		rs := cover[slot]
		sort.Slice(rs, func(i, j int) bool { return rs[i].Base < rs[j].Base })
		next := uint64(0)
		for _, r := range rs {
			if r.Base != next {
				return bad("module %s: DIMM address %#x decoded twice or skipped (next expected %#x)", slot, r.Base, next)
			}
			next = r.End()
		}
		if next != capacity {
			return bad("module %s: %d of %d bytes decoded", slot, next, capacity)
		}
	}
	return nil
}

// module is an installed module as the address map sees it.
type module struct {
	slot     smc.Slot
	capacity uint64 // a boot module: the part striped at boot
	boot     bool
	// rng is a hot-added module's range, or a boot module's extension:
	// capacity it gained after boot (a RAID5 array grown by upgrading its
	// cartridges), decoded from module offset capacity on.
	rng Range
}

// mapConfig is what newAddressMap lays out.
type mapConfig struct {
	topo []smc.Slot
	boot map[string]uint64 // boot module -> bytes decoded
	// populated has a key for each slot holding a module at boot, decoded
	// or not (a mirror's secondary); nil: those of boot. Only the others
	// get hot-plug windows.
	populated map[string]bool
	// perSlot is the hot-plug reservation of each slot empty at boot,
	// each slot getting a window of its own in its socket's reservation;
	// extra(socket) more is pooled after the windows (may be nil).
	perSlot uint64
	extra   func(socket int) uint64
	// pooled, when set, replaces the windows: one pool per socket.
	pooled func(socket int) uint64
	align  uint64
	bits   int   // physical address width (0: DefaultAddressBits)
	ways   []int // supported interleave ways, largest first (nil: DDR5's)
	// reliable boot modules decode mirrored memory (address-range
	// mirroring): their channels stay out of the interleave sets and are
	// laid as one contiguous range at the end of the socket's boot memory.
	reliable map[string]bool
	// clock stamps the home agents' trace (nil: zero times).
	clock clock.Clock
}

// AddressMap is the firmware's model of the system agent's memory decode:
// the boot layout, the installed modules, the interleave state and the
// current TAD.
type AddressMap struct {
	layout     *Layout
	align      uint64
	sockets    int
	chPerCtl   int
	ctlPerSock int
	slotsPerCh int
	ways       []int
	modules    map[string]*module
	reliable   map[string]bool
	mapOut     []uint32             // by socket
	home       map[string]Range     // slot empty at boot -> its reservation window
	tad        *TAD                 // current table
	view       atomic.Pointer[room] // what HotplugRoom reads without the firmware lock
	validateFn func(*TAD) error     // for tests: extra validation
	// lost are boot modules pulled without an eject, by slot: their ways
	// keep their place in the boot interleave sets until reboot, as
	// Rule.Lost (see Lose).
	lost map[string]*module
	// ha are the home agents, registering what each TAD decodes
	// (homeagent.go).
	ha *HomeAgents
}

func (m *AddressMap) socketOf() map[string]int {
	out := map[string]int{}
	for name, mod := range m.modules {
		out[name] = mod.slot.Socket
	}
	return out
}

func (m *AddressMap) capacities() map[string]uint64 {
	out := map[string]uint64{}
	for name, mod := range m.modules {
		out[name] = mod.capacity
		if mod.boot {
			out[name] += mod.rng.Length
		}
	}
	return out
}

// newAddressMap lays out the board from its boot modules: boot memory,
// then the hot-plug reservation, socket by socket; the boot interleave
// sets; and the first TAD.
func newAddressMap(cfg mapConfig) (*AddressMap, error) {
	if cfg.align == 0 {
		cfg.align = 2 * GiB
	}
	if cfg.bits == 0 {
		cfg.bits = DefaultAddressBits
	}
	if cfg.ways == nil {
		cfg.ways = InterleaveWays(spd.DDR5)
	}
	m := &AddressMap{align: cfg.align, ways: cfg.ways, modules: map[string]*module{}, reliable: map[string]bool{}, home: map[string]Range{}}
	chPerSock := 0
	for _, s := range cfg.topo {
		m.sockets = max(m.sockets, s.Socket+1)
		m.ctlPerSock = max(m.ctlPerSock, s.Controller+1)
		m.slotsPerCh = max(m.slotsPerCh, s.Position)
		chPerSock = max(chPerSock, s.Channel+1)
		if c, ok := cfg.boot[s.Name]; ok {
			m.modules[s.Name] = &module{slot: s, capacity: c, boot: true}
			m.reliable[s.Name] = cfg.reliable[s.Name]
		}
	}
	if chPerSock > 32 {
		return nil, fmt.Errorf("firmware: %d channels per socket; the Map Out register has 32 bits", chPerSock)
	}
	if m.ctlPerSock > 0 {
		m.chPerCtl = chPerSock / m.ctlPerSock
	}
	bootBytes := make([]uint64, m.sockets)
	reserve := make([]uint64, m.sockets)
	empty := make([][]string, m.sockets)
	for _, mod := range m.modules {
		bootBytes[mod.slot.Socket] += mod.capacity
	}
	perSlot := alignUp(cfg.perSlot, cfg.align)
	for _, s := range cfg.topo {
		_, taken := cfg.boot[s.Name]
		if cfg.populated != nil {
			_, taken = cfg.populated[s.Name]
		}
		if !taken {
			empty[s.Socket] = append(empty[s.Socket], s.Name)
		}
	}
	for s := range reserve {
		switch {
		case cfg.pooled != nil:
			reserve[s] = alignUp(cfg.pooled(s), cfg.align)
		default:
			reserve[s] = uint64(len(empty[s])) * perSlot
			if cfg.extra != nil {
				reserve[s] += alignUp(cfg.extra(s), cfg.align)
			}
		}
	}
	var err error
	if m.layout, err = newLayout(bootBytes, reserve, cfg.align, cfg.bits); err != nil {
		return nil, err
	}
	if cfg.pooled == nil && perSlot > 0 {
		// Each slot empty at boot owns the next window of its socket's
		// reservation, in board order: a module no larger than the
		// window always finds it free, however the others came and went.
		for s := range empty {
			if len(m.layout.Reserve[s]) != 1 {
				continue // never split: reservations start above 4 GiB
			}
			base := m.layout.Reserve[s][0].Base
			for i, name := range empty[s] {
				m.home[name] = Range{base + uint64(i)*perSlot, perSlot}
			}
		}
	}
	m.mapOut = make([]uint32, m.sockets)
	for _, mod := range m.modules {
		if m.reliable[mod.slot.Name] {
			m.mapOut[mod.slot.Socket] |= 1 << mod.slot.Channel
		}
	}
	t, err := m.build()
	if err != nil {
		return nil, err
	}
	if err := m.validate(t); err != nil {
		return nil, err
	}
	m.ha = newHomeAgents(m.layout, m.sockets, cfg.clock)
	m.swap(t)
	return m, nil
}

func (m *AddressMap) validate(t *TAD) error {
	if err := t.Validate(m.layout, m.capacities(), m.socketOf()); err != nil {
		return err
	}
	if m.validateFn != nil {
		return m.validateFn(t)
	}
	return nil
}

// swap installs t and refreshes what HotplugRoom reads.
func (m *AddressMap) swap(t *TAD) {
	m.tad = t
	if m.ha != nil {
		m.ha.sync(t)
	}
	v := &room{largest: make([]uint64, m.sockets), homeFree: map[string]uint64{}, mapped: map[string]bool{}}
	for s := range m.sockets {
		for _, f := range m.Free(s) {
			if base := alignUp(f.Base, m.align); base < f.End() {
				v.largest[s] = max(v.largest[s], f.End()-base)
			}
		}
	}
	for name, h := range m.home {
		v.homeFree[name] = m.freeAt(m.modules[name], h)
	}
	for name, mod := range m.modules {
		v.mapped[name] = mod.boot
	}
	m.view.Store(v)
}

// freeAt is how much of window h, from its start, no module other than
// self occupies.
func (m *AddressMap) freeAt(self *module, h Range) uint64 {
	end := h.End()
	for _, mod := range m.modules {
		if mod != self && mod.rng.Length > 0 && mod.rng.Overlaps(h) {
			end = min(end, max(mod.rng.Base, h.Base))
		}
	}
	return end - h.Base
}

// segment is a piece of boot memory to lay onto the boot extent.
type segment struct {
	targets []string
	size    uint64
	set     int // index into the socket's sets
}

// bootSets groups socket s's boot modules into interleave sets: channels
// populated alike (the same decoded capacity at every position) stripe
// together, cut into the way counts the controller supports; channels
// mapped out or holding the mirrored range are laid one by one. Each set
// is laid position by position.
func (m *AddressMap) bootSets(s int) ([]InterleaveSet, []segment) {
	chPerSock := m.chPerCtl * m.ctlPerSock
	at := make([][]*module, chPerSock) // by channel, by position-1
	put := func(mod *module) {
		if mod.boot && mod.slot.Socket == s && mod.slot.Channel < chPerSock {
			if at[mod.slot.Channel] == nil {
				at[mod.slot.Channel] = make([]*module, m.slotsPerCh)
			}
			at[mod.slot.Channel][mod.slot.Position-1] = mod
		}
	}
	for _, mod := range m.modules {
		put(mod)
	}
	// A lost boot module keeps its place (its ways decode to nothing,
	// Rule.Lost), whatever module its slot took since: the other
	// modules' addresses do not move.
	for _, mod := range m.lost {
		put(mod)
	}
	pattern := func(ch int) string {
		var b strings.Builder
		for _, mod := range at[ch] {
			c := uint64(0)
			if mod != nil {
				c = mod.capacity
			}
			fmt.Fprintf(&b, "%d/", c)
		}
		return b.String()
	}
	var groups [][]int
	byPattern := map[string]int{}
	var mapped, mirrored []int
	for ch := range chPerSock {
		if at[ch] == nil {
			continue
		}
		hasReliable, decoded := false, false
		for _, mod := range at[ch] {
			if mod != nil {
				hasReliable = hasReliable || m.reliable[mod.slot.Name]
				decoded = decoded || mod.capacity > 0
			}
		}
		switch {
		case !decoded:
		case hasReliable:
			mirrored = append(mirrored, ch)
		case m.mapOut[s]&(1<<ch) != 0:
			mapped = append(mapped, ch)
		default:
			k := pattern(ch)
			if g, ok := byPattern[k]; ok {
				groups[g] = append(groups[g], ch)
			} else {
				byPattern[k] = len(groups)
				groups = append(groups, []int{ch})
			}
		}
	}
	var sets []InterleaveSet
	var segs []segment
	addSet := func(chans []int, linear string) {
		set := InterleaveSet{Socket: s, Ways: len(chans), Linear: linear}
		for _, ch := range chans {
			set.Channels = append(set.Channels, channelLetter(ch))
		}
		for pos := range m.slotsPerCh {
			var sg segment
			sg.set = len(sets)
			for _, ch := range chans {
				if mod := at[ch][pos]; mod != nil && mod.capacity > 0 {
					sg.targets = append(sg.targets, mod.slot.Name)
					sg.size += mod.capacity
				}
			}
			if len(sg.targets) > 0 {
				set.Modules = append(set.Modules, sg.targets...)
				set.Bytes += sg.size
				segs = append(segs, sg)
			}
		}
		sets = append(sets, set)
	}
	for _, g := range groups {
		i := 0
		for _, w := range splitWays(len(g), m.ways) {
			addSet(g[i:i+w], "")
			i += w
		}
	}
	for _, ch := range mapped {
		addSet([]int{ch}, "map-out")
	}
	for _, ch := range mirrored {
		addSet([]int{ch}, "mirrored")
	}
	return sets, segs
}

// channelLetter is profile.ChannelLetter, kept here so the decoder's
// tables name channels as the board does.
func channelLetter(ch int) string { return profile.ChannelLetter(ch) }

// build derives a table from the current modules and interleave state.
func (m *AddressMap) build() (*TAD, error) {
	t := &TAD{}
	if m.tad != nil {
		t.Generation = m.tad.Generation + 1
	} else {
		t.Generation = 1
	}
	for s := 0; s < m.sockets; s++ {
		for c := 0; c < m.ctlPerSock; c++ {
			out := m.mapOut[s] & m.controllerBits(c)
			t.Controllers = append(t.Controllers, ControllerMode{Socket: s, Controller: c, Interleaved: out == 0, MapOut: out})
		}
		sets, segs := m.bootSets(s)
		rules, err := lay(s, m.layout.Boot[s], segs)
		if err != nil {
			return nil, err
		}
		for i, r := range rules {
			set := &sets[segs[r.seg].set]
			if n := len(set.Ranges); n > 0 && set.Ranges[n-1].End() == r.Base {
				set.Ranges[n-1].Length += r.Length
			} else {
				set.Ranges = append(set.Ranges, r.Range)
			}
			for _, tg := range r.Targets {
				if m.lost[tg] != nil {
					rules[i].Lost = append(rules[i].Lost, tg)
				}
			}
			t.Rules = append(t.Rules, rules[i].Rule)
		}
		t.Sets = append(t.Sets, sets...)
		for _, mod := range m.modules {
			switch {
			case mod.slot.Socket != s:
			case !mod.boot:
				t.Rules = append(t.Rules, Rule{Range: mod.rng, Socket: s, Targets: []string{mod.slot.Name}, Hotplug: true})
			case mod.rng.Length > 0:
				t.Rules = append(t.Rules, Rule{Range: mod.rng, Socket: s, Targets: []string{mod.slot.Name}, TargetOffset: mod.capacity, Hotplug: true})
			}
		}
	}
	sort.Slice(t.Rules, func(i, j int) bool { return t.Rules[i].Base < t.Rules[j].Base })
	return t, nil
}

// controllerBits is the Map Out mask of controller c's channels.
func (m *AddressMap) controllerBits(c int) uint32 {
	bits := uint32(0)
	for ch := c * m.chPerCtl; ch < (c+1)*m.chPerCtl; ch++ {
		bits |= 1 << ch
	}
	return bits
}

// laid is a rule and the segment it came from.
type laid struct {
	Rule
	seg int
}

// lay cuts segments onto the pieces of a socket's boot extent in order. A
// segment that reaches the end of a piece carries on at the start of the
// next one, at the way where it stopped (Rule.Phase), so the extent,
// exactly the boot modules' decoded bytes, always holds them.
func lay(socket int, pieces []Range, segs []segment) ([]laid, error) {
	var out []laid
	pi := 0
	pos := uint64(0)
	if len(pieces) > 0 {
		pos = pieces[0].Base
	}
	for si, sg := range segs {
		w := uint64(len(sg.targets))
		gran := uint64(0)
		unit := uint64(4096)
		if w > 1 {
			gran = InterleaveGranularity
			unit = gran
		}
		done := uint64(0)
		for done < sg.size {
			if pi >= len(pieces) {
				return nil, fmt.Errorf("%w: socket %d boot extent ends %d bytes short of its %d-way set of %v", ErrInvalidTAD, socket, sg.size-done, w, sg.targets)
			}
			take := min(sg.size-done, pieces[pi].End()-pos) / unit * unit
			if take > 0 {
				r := Rule{Range: Range{pos, take}, Socket: socket, Targets: sg.targets, Granularity: gran, TargetOffset: done}
				if w > 1 {
					g := done / gran
					r.Phase, r.TargetOffset = g%w, g/w*gran
				}
				out = append(out, laid{r, si})
				pos += take
				done += take
			}
			if pos == pieces[pi].End() || take == 0 {
				pi++
				if pi < len(pieces) {
					pos = pieces[pi].Base
				}
			}
		}
	}
	return out, nil
}

// TAD returns the current table.
func (m *AddressMap) TAD() *TAD { return m.tad }

// HomeAgents are the sockets' home agents.
func (m *AddressMap) HomeAgents() *HomeAgents { return m.ha }

// Layout returns the boot layout.
func (m *AddressMap) Layout() *Layout { return m.layout }

// Commit validates next and swaps it in; on failure the current table stays.
func (m *AddressMap) Commit(next *TAD) error {
	if err := m.validate(next); err != nil {
		return err
	}
	m.swap(next)
	return nil
}

// Free returns the unused pieces of a socket's hot-plug reservation.
func (m *AddressMap) Free(socket int) []Range {
	var used []Range
	for _, mod := range m.modules {
		if mod.slot.Socket == socket && mod.rng.Length > 0 {
			used = append(used, mod.rng)
		}
	}
	sort.Slice(used, func(i, j int) bool { return used[i].Base < used[j].Base })
	var out []Range
	for _, p := range m.layout.Reserve[socket] {
		cur := p.Base
		for _, u := range used {
			if u.Base >= p.End() || u.End() <= p.Base {
				continue
			}
			if u.Base > cur {
				out = append(out, Range{cur, u.Base - cur})
			}
			cur = max(cur, u.End())
		}
		if cur < p.End() {
			out = append(out, Range{cur, p.End() - cur})
		}
	}
	return out
}

// Range returns the range a hot-added module occupies.
func (m *AddressMap) Range(slot string) (Range, bool) {
	mod, ok := m.modules[slot]
	if !ok || mod.boot {
		return Range{}, false
	}
	return mod.rng, true
}

// place picks the range a module of capacity bytes in slot would take:
// its slot's own window when it fits there, otherwise the lowest aligned
// free range of the socket's reservation.
func (m *AddressMap) place(slot smc.Slot, capacity uint64) (Range, error) {
	if h, ok := m.home[slot.Name]; ok && capacity <= h.Length && m.freeAt(m.modules[slot.Name], h) >= capacity {
		return Range{h.Base, capacity}, nil
	}
	var largest, total uint64
	for _, f := range m.Free(slot.Socket) {
		base := alignUp(f.Base, m.align)
		if base < f.End() {
			avail := f.End() - base
			largest = max(largest, avail)
			total += avail
			if avail >= capacity {
				return Range{base, capacity}, nil
			}
		}
	}
	why := "reservation exhausted"
	if total >= capacity {
		why = "reservation fragmented"
	}
	return Range{}, fmt.Errorf("%w: %s needs %d GiB on node %d; %s (%d GiB free, largest aligned block %d GiB)",
		ErrNoAddressSpace, slot.Name, capacity/GiB, slot.Socket, why, total/GiB, largest/GiB)
}

// interleaved reports whether channel ch of socket s is striped with
// others in a boot interleave set of the current table.
func (m *AddressMap) interleaved(s, ch int) bool {
	letter := channelLetter(ch)
	for _, set := range m.tad.Sets {
		if set.Socket == s && set.Ways > 1 && slices.Contains(set.Channels, letter) {
			return true
		}
	}
	return false
}

// Add places a hot-added module in its own 1-way range of its socket's
// reservation (its slot's window, else the lowest aligned free range). A
// module beside a channel striped with others breaks that channel's
// symmetry: the module's controller is mapped out of the interleave (its
// channels' boot modules are laid linearly, the rest of the set re-cut
// into supported ways) until reboot. The new table is swapped in only if
// it validates. Add returns the range and the interleave changes.
func (m *AddressMap) Add(slot smc.Slot, capacity uint64) (Range, []events.InterleaveChanged, error) {
	if _, dup := m.modules[slot.Name]; dup {
		return Range{}, nil, fmt.Errorf("firmware: %s is already mapped", slot.Name)
	}
	if slot.Socket < 0 || slot.Socket >= m.sockets {
		return Range{}, nil, fmt.Errorf("firmware: %s: socket %d out of range", slot.Name, slot.Socket)
	}
	rng, err := m.place(slot, capacity)
	if err != nil {
		return Range{}, nil, err
	}
	oldOut := m.mapOut[slot.Socket]
	m.modules[slot.Name] = &module{slot: slot, capacity: capacity, rng: rng}
	var changes []events.InterleaveChanged
	// A module seated where a boot module was lost (Lose) leaves the
	// channel's stripe as it is: the lost module keeps its ways there
	// until reboot, and mapping the controller out would re-lay, and so
	// move, the live memory the surprise removal left in place.
	if c := slot.Controller; m.lost[slot.Name] == nil && m.interleaved(slot.Socket, slot.Channel) {
		bits := m.controllerBits(c)
		m.mapOut[slot.Socket] |= bits
		var migrate []events.PhysRange
		for _, r := range m.layout.Boot[slot.Socket] {
			migrate = append(migrate, events.PhysRange{Base: r.Base, Length: r.Length})
		}
		changes = append(changes, events.InterleaveChanged{Socket: slot.Socket, Controller: c, Interleaved: false,
			MapOut: m.mapOut[slot.Socket] & bits, Migrate: migrate,
			Reason: fmt.Sprintf("%s breaks channel symmetry; controller %d leaves the socket interleave set until reboot", slot.Name, c)})
	}
	next, err := m.build()
	if err == nil {
		err = m.validate(next)
	}
	if err != nil {
		delete(m.modules, slot.Name)
		m.mapOut[slot.Socket] = oldOut
		return Range{}, nil, fmt.Errorf("mapping %s: %w", slot.Name, err)
	}
	m.swap(next)
	return rng, changes, nil
}

// Extension returns the range a boot module's extension occupies.
func (m *AddressMap) Extension(slot string) (Range, bool) {
	mod, ok := m.modules[slot]
	if !ok || !mod.boot || mod.rng.Length == 0 {
		return Range{}, false
	}
	return mod.rng, true
}

// Extend maps extra bytes a boot module gained after boot (from module
// offset capacity on) at the lowest aligned free range of its socket's
// reservation; one extension per module until reboot.
func (m *AddressMap) Extend(slot string, extra uint64) (Range, error) {
	mod, ok := m.modules[slot]
	switch {
	case !ok || !mod.boot:
		return Range{}, fmt.Errorf("firmware: %s is no boot module", slot)
	case mod.rng.Length > 0:
		return Range{}, fmt.Errorf("firmware: %s was extended already; the next boot maps it whole", slot)
	case extra == 0:
		return Range{}, fmt.Errorf("firmware: %s: nothing to extend", slot)
	}
	for _, f := range m.Free(mod.slot.Socket) {
		if base := alignUp(f.Base, m.align); base < f.End() && f.End()-base >= extra {
			mod.rng = Range{base, extra}
			break
		}
	}
	if mod.rng.Length == 0 {
		return Range{}, fmt.Errorf("%w: extending %s by %d GiB on node %d", ErrNoAddressSpace, slot, extra/GiB, mod.slot.Socket)
	}
	next, err := m.build()
	if err == nil {
		err = m.validate(next)
	}
	if err != nil {
		mod.rng = Range{}
		return Range{}, fmt.Errorf("extending %s: %w", slot, err)
	}
	m.swap(next)
	return mod.rng, nil
}

// Unextend drops a boot module's extension.
func (m *AddressMap) Unextend(slot string) (Range, error) {
	mod, ok := m.modules[slot]
	if !ok || !mod.boot || mod.rng.Length == 0 {
		return Range{}, fmt.Errorf("firmware: %s has no extension", slot)
	}
	rng := mod.rng
	mod.rng = Range{}
	next, err := m.build()
	if err == nil {
		err = m.validate(next)
	}
	if err != nil {
		mod.rng = rng
		return Range{}, fmt.Errorf("dropping the extension of %s: %w", slot, err)
	}
	m.swap(next)
	return rng, nil
}

// Remove unmaps a hot-added module. Boot modules are not removable. Map Out
// bits stay set until reboot: re-interleaving live memory is not done.
func (m *AddressMap) Remove(slot string) (Range, error) {
	mod, ok := m.modules[slot]
	if !ok {
		return Range{}, fmt.Errorf("firmware: %s is not mapped", slot)
	}
	if mod.boot {
		return Range{}, fmt.Errorf("firmware: %s is boot memory in the socket's decode and cannot be unmapped", slot)
	}
	delete(m.modules, slot)
	next, err := m.build()
	if err == nil {
		err = m.validate(next)
	}
	if err != nil {
		m.modules[slot] = mod
		return Range{}, fmt.Errorf("unmapping %s: %w", slot, err)
	}
	m.swap(next)
	return mod.rng, nil
}

// Lose takes a surprise-removed boot module out of the decode. Its ways
// keep their place in the socket's boot rules, because re-striping the
// other modules under live memory would move their data, but decode to no
// module until reboot (Rule.Lost): accesses there reach no module. Its
// extension, if any, is freed. The slot is then free to take a new module through Add. It
// returns the lowest system address the module decoded and how many bytes
// its ways cover.
func (m *AddressMap) Lose(slot string) (first, bytes uint64, err error) {
	mod, ok := m.modules[slot]
	switch {
	case !ok:
		return 0, 0, fmt.Errorf("firmware: %s is not mapped", slot)
	case !mod.boot:
		return 0, 0, fmt.Errorf("firmware: %s is hot-added memory: unmap it with Remove", slot)
	}
	first = ^uint64(0)
	for _, r := range m.tad.RulesFor(slot) {
		if r.Hotplug {
			continue // the extension, not boot memory
		}
		way := slices.Index(r.Targets, slot)
		if _, ok := r.targetSpan(way); !ok {
			continue // too short to reach the way
		}
		w := uint64(r.Ways())
		// The way's first granule: the stripe starts at way Phase.
		first = min(first, r.Base+(uint64(way)+w-r.Phase%w)%w*r.Granularity)
	}
	if m.lost == nil {
		m.lost = map[string]*module{}
	}
	delete(m.modules, slot)
	m.lost[slot] = mod
	next, err := m.build()
	if err == nil {
		err = m.validate(next)
	}
	if err != nil {
		delete(m.lost, slot)
		m.modules[slot] = mod
		return 0, 0, err
	}
	// The swap refreshes HotplugRoom's view: the slot no longer holds a
	// decoded boot module, so a module seated there is a hot-add that
	// needs room in the reservation like any other (it has no window:
	// windows are for slots empty at boot).
	m.swap(next)
	return first, mod.capacity, nil
}

// Node returns the proximity domain of slot's module, -1 if unmapped.
func (m *AddressMap) Node(slot string) int {
	if mod, ok := m.modules[slot]; ok {
		return mod.slot.Socket
	}
	return -1
}

// Hotplugged lists the hot-added modules' ranges by socket, sorted.
func (m *AddressMap) hotplugged(socket int) []Range {
	var out []Range
	for _, mod := range m.modules {
		if mod.slot.Socket == socket && mod.rng.Length > 0 {
			out = append(out, mod.rng)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Base < out[j].Base })
	return out
}

// check validates the current table (see TAD.Validate) and decodes
// sample addresses of every rule (its ends, granule edges around its
// start and end, points inside) to a module offset and encodes them back:
// every address decodes to exactly one module offset, and back.
func (m *AddressMap) check() error {
	t := m.tad
	if err := m.validate(t); err != nil {
		return err
	}
	for _, r := range t.Rules {
		g := max(r.Granularity, 1)
		for _, off := range []uint64{0, 1, g - 1, g, 2*g + 7, r.Length / 3, r.Length / 2, r.Length - 2*g, r.Length - g, r.Length - 1} {
			if off >= r.Length {
				continue
			}
			addr := r.Base + off
			slot, moff, ok := t.Decode(addr)
			if !ok && r.lost(slot) {
				continue // a lost way decodes to no module (AddressMap.Lose)
			}
			if !ok || !slices.Contains(r.Targets, slot) {
				return fmt.Errorf("%w: %#x in rule %v decodes to %q (ok %v), not one of %v", ErrInvalidTAD, addr, r.Range, slot, ok, r.Targets)
			}
			if back, ok := t.Encode(slot, moff); !ok || back != addr {
				return fmt.Errorf("%w: %#x decodes to %s+%#x, which encodes back to %#x (ok %v)", ErrInvalidTAD, addr, slot, moff, back, ok)
			}
		}
	}
	return nil
}

// room is the hot-plug reservation as the SMC consults it before it
// powers a slot: a lock-free copy refreshed with every table swap.
type room struct {
	largest  []uint64          // by socket: the largest aligned free block
	homeFree map[string]uint64 // by slot: how much of its window is free
	mapped   map[string]bool   // slots whose module is mapped (true: boot memory)
}

// fits reports whether a module of capacity bytes in slot would find
// address space, and if not why.
func (v *room) fits(slot smc.Slot, capacity uint64) error {
	if boot, ok := v.mapped[slot.Name]; ok && boot {
		return nil // a boot slot re-seated: its boot decode still stands
	}
	if capacity <= v.homeFree[slot.Name] {
		return nil
	}
	if slot.Socket >= 0 && slot.Socket < len(v.largest) && capacity <= v.largest[slot.Socket] {
		return nil
	}
	var largest uint64
	if slot.Socket >= 0 && slot.Socket < len(v.largest) {
		largest = v.largest[slot.Socket]
	}
	return fmt.Errorf("%w: %s needs %d GiB on node %d; the largest free block of the reservation is %d GiB",
		ErrNoAddressSpace, slot.Name, capacity/GiB, slot.Socket, max(largest, v.homeFree[slot.Name])/GiB)
}
