package firmware

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/smc"
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

// newLayout places each socket's boot memory then its reservation, in
// socket order, skipping the 32-bit MMIO hole, then the 64-bit MMIO window.
func newLayout(bootBytes, reserveBytes []uint64, align uint64) *Layout {
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
	for s := range bootBytes {
		l.Boot[s] = place(bootBytes[s])
		cursor = alignUp(cursor, align)
		l.Reserve[s] = place(reserveBytes[s])
		cursor = alignUp(cursor, align)
	}
	base := alignUp(max(cursor, fourGiB), TiB)
	l.Holes = append(l.Holes, Region{Range: Range{base, HighMMIOSize}, Kind: RegionMMIO, Socket: -1, Name: "PCI MMIO (64-bit)"})
	return l
}

// Rule is one Target Address Decoder entry: a system address range decoded
// to one module (1-way) or striped over modules on different channels.
type Rule struct {
	Range
	Socket int `json:"socket"`
	// Targets are the slots the range is striped over, in way order.
	Targets     []string `json:"targets"`
	Granularity uint64   `json:"granularity,omitempty"` // stripe size when len(Targets) > 1
	// TargetOffset is where the rule starts in each target module's own
	// (DIMM) address space.
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

// ControllerMode is the interleave state of one memory controller.
type ControllerMode struct {
	Socket      int  `json:"socket"`
	Controller  int  `json:"controller"`
	Interleaved bool `json:"interleaved"`
	// MapOut has a bit per channel of the socket (A = bit 0) for the
	// controller's channels taken out of the socket's interleave set.
	MapOut uint32 `json:"map_out"`
}

// TAD is a complete decoder table. Tables are immutable once built; the
// firmware swaps a new one in only after it validates.
type TAD struct {
	Generation  uint64           `json:"generation"`
	Rules       []Rule           `json:"rules"`
	Controllers []ControllerMode `json:"controllers"`
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
	chunk := off / r.Granularity
	w := uint64(r.Ways())
	tg := r.Targets[chunk%w]
	return tg, r.TargetOffset + chunk/w*r.Granularity + off%r.Granularity, !r.lost(tg)
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
// whole, and every module's own address space covered exactly once.
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
		if w == 0 {
			return bad("rule %d has no targets", i)
		}
		if w > 1 && (r.Granularity == 0 || r.Length%(w*r.Granularity) != 0) {
			return bad("rule %d: %d bytes do not stripe evenly over %d ways of %d", i, r.Length, w, r.Granularity)
		}
		for _, tg := range r.Targets {
			if r.lost(tg) {
				continue // no module behind it (AddressMap.Lose)
			}
			if _, ok := modules[tg]; !ok {
				return bad("rule %d targets %s, which holds no module", i, tg)
			}
			if sockets[tg] != r.Socket {
				return bad("rule %d of socket %d targets %s on socket %d", i, r.Socket, tg, sockets[tg])
			}
			cover[tg] = append(cover[tg], Range{r.TargetOffset, r.Length / w})
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

// AddressMap is the firmware's model of the system agent's memory decode:
// the boot layout, the installed modules, the interleave state and the
// current TAD.
type AddressMap struct {
	layout     *Layout
	align      uint64
	sockets    int
	chPerCtl   int
	ctlPerSock int
	modules    map[string]*module
	symmetric  []bool           // by socket: boot population allowed interleaving
	bootPat    [][]uint64       // by socket: the boot per-channel population
	mapOut     []uint32         // by socket
	tad        *TAD             // current table
	validateFn func(*TAD) error // for tests: extra validation
	// lost are boot modules pulled without an eject, by slot: their ways
	// keep their place in the boot decode until reboot, as Rule.Lost
	// (see Lose).
	lost map[string]*module
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

// channelPattern is the capacities of a channel's modules by position.
func (m *AddressMap) channelPattern(socket, channel int, slotsPerChannel int) []uint64 {
	pat := make([]uint64, slotsPerChannel)
	for _, mod := range m.modules {
		if mod.slot.Socket == socket && mod.slot.Channel == channel && mod.slot.Position-1 < len(pat) {
			pat[mod.slot.Position-1] = mod.capacity
		}
	}
	return pat
}

// newAddressMap lays out the board from its boot modules.
// skip (may be nil) names channels left out of the symmetry check;
// reliable (may be nil) boot modules that decode mirrored memory, whose
// channels leave the interleave set so that memory is one contiguous range.
func newAddressMap(topo []smc.Slot, boot map[string]uint64, reservePerSocket func(socket int) uint64, align uint64, skip func(socket, ch int) bool, reliable map[string]bool) (*AddressMap, error) {
	m := &AddressMap{align: align, modules: map[string]*module{}}
	slotsPerChannel := 0
	for _, s := range topo {
		m.sockets = max(m.sockets, s.Socket+1)
		m.ctlPerSock = max(m.ctlPerSock, s.Controller+1)
		slotsPerChannel = max(slotsPerChannel, s.Position)
		if c, ok := boot[s.Name]; ok {
			m.modules[s.Name] = &module{slot: s, capacity: c, boot: true}
		}
	}
	chPerSock := 0
	for _, s := range topo {
		chPerSock = max(chPerSock, s.Channel+1)
	}
	if m.ctlPerSock > 0 {
		m.chPerCtl = chPerSock / m.ctlPerSock
	}
	bootBytes := make([]uint64, m.sockets)
	reserve := make([]uint64, m.sockets)
	for _, mod := range m.modules {
		bootBytes[mod.slot.Socket] += mod.capacity
	}
	for s := range reserve {
		reserve[s] = alignUp(reservePerSocket(s), align)
	}
	m.layout = newLayout(bootBytes, reserve, align)
	m.symmetric = make([]bool, m.sockets)
	m.bootPat = make([][]uint64, m.sockets)
	m.mapOut = make([]uint32, m.sockets)
	for s := 0; s < m.sockets; s++ {
		first := m.channelPattern(s, 0, slotsPerChannel)
		sym := bootBytes[s] > 0
		for ch := 1; ch < chPerSock && sym; ch++ {
			sym = skip != nil && skip(s, ch) || slices.Equal(first, m.channelPattern(s, ch, slotsPerChannel))
		}
		m.symmetric[s] = sym
		m.bootPat[s] = first
		if !sym {
			for ch := 0; ch < chPerSock; ch++ {
				m.mapOut[s] |= 1 << ch
			}
		}
		for _, mod := range m.modules {
			if mod.slot.Socket == s && reliable[mod.slot.Name] {
				m.mapOut[s] |= 1 << mod.slot.Channel
			}
		}
	}
	t, err := m.build()
	if err != nil {
		return nil, err
	}
	if err := m.validate(t); err != nil {
		return nil, err
	}
	m.tad = t
	return m, nil
}

func (m *AddressMap) slotsPerChannel() int { return len(m.bootPat[0]) }

func (m *AddressMap) validate(t *TAD) error {
	if err := t.Validate(m.layout, m.capacities(), m.socketOf()); err != nil {
		return err
	}
	if m.validateFn != nil {
		return m.validateFn(t)
	}
	return nil
}

// segment is a piece of boot memory to lay onto the boot extent.
type segment struct {
	targets []string
	size    uint64
}

// build derives a table from the current modules and interleave state.
func (m *AddressMap) build() (*TAD, error) {
	t := &TAD{}
	if m.tad != nil {
		t.Generation = m.tad.Generation + 1
	} else {
		t.Generation = 1
	}
	chPerSock := m.chPerCtl * m.ctlPerSock
	for s := 0; s < m.sockets; s++ {
		for c := 0; c < m.ctlPerSock; c++ {
			bits := uint32(0)
			for ch := c * m.chPerCtl; ch < (c+1)*m.chPerCtl; ch++ {
				bits |= 1 << ch
			}
			out := m.mapOut[s] & bits
			t.Controllers = append(t.Controllers, ControllerMode{Socket: s, Controller: c, Interleaved: out == 0, MapOut: out})
		}
		// Boot modules by channel and position.
		bootAt := func(ch, pos int) *module {
			for _, mod := range m.modules {
				if mod.boot && mod.slot.Socket == s && mod.slot.Channel == ch && mod.slot.Position == pos {
					return mod
				}
			}
			for _, mod := range m.lost {
				if mod.slot.Socket == s && mod.slot.Channel == ch && mod.slot.Position == pos {
					return mod
				}
			}
			return nil
		}
		var segs []segment
		var linear []segment
		for pos := 1; pos <= m.slotsPerChannel(); pos++ {
			var stripe []string
			var size uint64
			for ch := 0; ch < chPerSock; ch++ {
				mod := bootAt(ch, pos)
				if mod == nil {
					continue
				}
				if m.mapOut[s]&(1<<ch) != 0 {
					linear = append(linear, segment{[]string{mod.slot.Name}, mod.capacity})
					continue
				}
				stripe = append(stripe, mod.slot.Name)
				size += mod.capacity
			}
			if len(stripe) > 0 {
				segs = append(segs, segment{stripe, size})
			}
		}
		rules, err := lay(s, m.layout.Boot[s], append(segs, linear...))
		if err != nil {
			return nil, err
		}
		for i := range rules {
			for _, tg := range rules[i].Targets {
				if m.lost[tg] != nil {
					rules[i].Lost = append(rules[i].Lost, tg)
				}
			}
		}
		t.Rules = append(t.Rules, rules...)
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

// lay cuts segments onto the pieces of a socket's boot extent in order.
func lay(socket int, pieces []Range, segs []segment) ([]Rule, error) {
	var out []Rule
	pi := 0
	pos := uint64(0)
	if len(pieces) > 0 {
		pos = pieces[0].Base
	}
	for _, sg := range segs {
		w := uint64(len(sg.targets))
		unit := uint64(4096)
		gran := uint64(0)
		if w > 1 {
			gran = InterleaveGranularity
			unit = w * gran
		}
		remaining, off := sg.size, uint64(0)
		for remaining > 0 {
			if pi >= len(pieces) {
				return nil, fmt.Errorf("%w: socket %d boot extent too small to re-lay %d ways", ErrInvalidTAD, socket, w)
			}
			avail := pieces[pi].End() - pos
			take := min(remaining, avail) / unit * unit
			if take == 0 {
				pi++
				if pi < len(pieces) {
					pos = pieces[pi].Base
				}
				continue
			}
			out = append(out, Rule{Range: Range{pos, take}, Socket: socket, Targets: sg.targets, Granularity: gran, TargetOffset: off})
			pos += take
			off += take / w
			remaining -= take
			if pos == pieces[pi].End() {
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

// Layout returns the boot layout.
func (m *AddressMap) Layout() *Layout { return m.layout }

// Commit validates next and swaps it in; on failure the current table stays.
func (m *AddressMap) Commit(next *TAD) error {
	if err := m.validate(next); err != nil {
		return err
	}
	m.tad = next
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

// Add places a hot-added module: it picks the lowest aligned free range of
// the module's socket reservation, updates the interleave state if the
// module breaks channel symmetry, and swaps in the new table only if it
// validates. It returns the range and the interleave changes.
func (m *AddressMap) Add(slot smc.Slot, capacity uint64) (Range, []events.InterleaveChanged, error) {
	if _, dup := m.modules[slot.Name]; dup {
		return Range{}, nil, fmt.Errorf("firmware: %s is already mapped", slot.Name)
	}
	if slot.Socket < 0 || slot.Socket >= m.sockets {
		return Range{}, nil, fmt.Errorf("firmware: %s: socket %d out of range", slot.Name, slot.Socket)
	}
	var rng Range
	var largest, total uint64
	for _, f := range m.Free(slot.Socket) {
		base := alignUp(f.Base, m.align)
		if base < f.End() {
			avail := f.End() - base
			largest = max(largest, avail)
			total += avail
			if rng.Length == 0 && avail >= capacity {
				rng = Range{base, capacity}
			}
		}
	}
	if rng.Length == 0 {
		why := "reservation exhausted"
		if total >= capacity {
			why = "reservation fragmented"
		}
		return Range{}, nil, fmt.Errorf("%w: %s needs %d GiB on node %d; %s (%d GiB free, largest aligned block %d GiB)",
			ErrNoAddressSpace, slot.Name, capacity/GiB, slot.Socket, why, total/GiB, largest/GiB)
	}
	oldOut := m.mapOut[slot.Socket]
	m.modules[slot.Name] = &module{slot: slot, capacity: capacity, rng: rng}
	var changes []events.InterleaveChanged
	if m.symmetric[slot.Socket] {
		c := slot.Controller
		bits := uint32(0)
		broken := false
		for ch := c * m.chPerCtl; ch < (c+1)*m.chPerCtl; ch++ {
			bits |= 1 << ch
			broken = broken || !slices.Equal(m.channelPattern(slot.Socket, ch, m.slotsPerChannel()), m.bootPat[slot.Socket])
		}
		if broken && m.mapOut[slot.Socket]&bits == 0 {
			m.mapOut[slot.Socket] |= bits
			var migrate []events.PhysRange
			for _, r := range m.layout.Boot[slot.Socket] {
				migrate = append(migrate, events.PhysRange{Base: r.Base, Length: r.Length})
			}
			changes = append(changes, events.InterleaveChanged{Socket: slot.Socket, Controller: c, Interleaved: false,
				MapOut: m.mapOut[slot.Socket] & bits, Migrate: migrate,
				Reason: fmt.Sprintf("%s breaks channel symmetry; controller %d leaves the socket interleave set until reboot", slot.Name, c)})
		}
	}
	next, err := m.build()
	if err == nil {
		err = m.validate(next)
	}
	if err != nil {
		delete(m.modules, slot.Name)
		m.mapOut[slot.Socket] = oldOut
		return Range{}, nil, err
	}
	m.tad = next
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
		return Range{}, err
	}
	m.tad = next
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
		return Range{}, err
	}
	m.tad = next
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
		return Range{}, err
	}
	m.tad = next
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
		if r.TargetOffset >= mod.capacity {
			continue // the extension, not boot memory
		}
		way := uint64(slices.Index(r.Targets, slot))
		first = min(first, r.Base+way*r.Granularity)
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
	m.tad = next
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
