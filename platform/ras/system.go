package ras

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/ras/ecc"
	"github.com/bmcemu/bmcemu/platform/ras/mirror"
	"github.com/bmcemu/bmcemu/platform/ras/pages"
	"github.com/bmcemu/bmcemu/platform/ras/raid5"
	"github.com/bmcemu/bmcemu/platform/ras/sparing"
)

// Errors of the system-wide engine.
var (
	ErrUnknownModule = errors.New("ras: no such module")
	ErrBusy          = errors.New("ras: another RAS operation is running")
	ErrRefused       = errors.New("ras: refused by the RAS mode's rules")
)

// System is the memory controller's RAS engine for a whole server: the
// page contents the workload wrote, routed through the firmware's address
// decoder onto the mode's engines (one mirror per module pair, one sparing
// channel per memory channel, one RAID5 array, or plain per-address
// storage), the ECC model, and the one running copy (spare copy, re-silver
// or rebuild). It turns the engines' results into platform events.
//
// Like the engines it is pure: no goroutines, no locks, simulated time
// passed in. The platform serialises calls and schedules Step.
type System struct {
	plan Plan
	mods map[string]Module // the boot population, by slot
	geo  func(slot string) (ModuleGeometry, bool)
	tad  *firmware.TAD
	ecc  *ecc.Model

	flat    *pages.Store // pages decoded to modules no engine covers
	poison  map[uint64]bool
	lost    map[uint64]bool
	chans   map[string]*channelSet // sparing, by slot
	mirrors map[string]*pairSet    // mirroring, by slot (both sides)
	raid    *raidSet
	held    map[[3]int]Module // mirroring: hot-added halves awaiting their partner, by socket, channel pair, position
	failed  map[string]bool   // modules failed in place outside any redundant set
	// orphans are the secondaries of hot-added mirrored pairs whose range
	// the OS ejected: powered, holding no copy of anything, free to go.
	orphans map[string]bool
	seq     int // numbers new sets, so an ID is never used twice

	sets []set // every redundant set, in a stable order
	last map[string]string
	job  *job
	evs  []events.Event
}

type set interface {
	id() string
	name() string
	kind() string
	slots() []string
	state() string
}

type channelSet struct {
	ID        string
	Slots     []string
	ch        *sparing.Channel
	base      map[string]uint64 // module -> channel byte offset of its decoded part
	rankBytes uint64
}

type pairSet struct {
	ID    string
	Sides [2]string
	m     *mirror.Mirror
}

type raidSet struct {
	a       *raid5.Array
	cart    map[string]int    // module -> cartridge
	off     map[string]uint64 // module -> byte offset within its cartridge
	members [raid5.Cartridges][]string
	back    [raid5.Cartridges]map[string]uint64 // modules re-seated into a failed cartridge
	bytes   uint64
	// After all five cartridges were upgraded, the added capacity is
	// decoded through each data module's extension: extAt is where a
	// module's extension starts in the array's address space (past the
	// boot size), pending the extensions the firmware has yet to map and
	// mapped the bytes the OS was handed.
	extAt   map[string]uint64
	pending []Extension
	mapped  uint64
}

// Extension is capacity a boot module gained after boot, for the
// firmware to decode from the module's boot size on.
type Extension struct {
	Slot  string
	Bytes uint64
}

// job is the running copy. The hardware copies the whole physical
// extent (bytes), not just the pages the workload wrote, so its duration
// follows the extent; the written pages (total) are copied in proportion.
type job struct {
	set   set
	slot  string
	kind  string
	total int
	done  int
	bytes uint64
	moved uint64
	step  func(n int) (bool, error)
	pct   int
}

// Job is the running copy, for snapshots.
type Job struct {
	Set     string `json:"set"`
	Slot    string `json:"slot"`
	Kind    string `json:"kind"`
	Done    int    `json:"done"`
	Total   int    `json:"total"`
	Percent int    `json:"percent"`
}

// NewSystem builds the engine for plan over the boot population mods;
// geometry answers for any installed module (hot-added ones too). Call
// SetTAD before any page traffic.
func NewSystem(plan Plan, mods []Module, geometry func(slot string) (ModuleGeometry, bool), cfg ecc.Config, seed uint64) (*System, error) {
	model, err := ecc.New(cfg, seed)
	if err != nil {
		return nil, err
	}
	s := &System{plan: plan, mods: map[string]Module{}, geo: geometry, ecc: model, flat: pages.New(),
		poison: map[uint64]bool{}, lost: map[uint64]bool{}, chans: map[string]*channelSet{}, mirrors: map[string]*pairSet{},
		held: map[[3]int]Module{}, failed: map[string]bool{}, last: map[string]string{}, orphans: map[string]bool{}}
	for _, m := range mods {
		s.mods[m.Slot] = m
	}
	switch plan.Mode {
	case RankSparing:
		err = s.buildSparing(mods)
	case Mirroring, AddressRangeMirror:
		err = s.buildMirrors(mods)
	case RAID5:
		err = s.buildRAID(mods)
	}
	if err != nil {
		return nil, fmt.Errorf("ras: %s: %w", plan.Mode, err)
	}
	for _, st := range s.sets {
		s.last[st.id()] = st.state()
	}
	s.seq = len(s.sets)
	return s, nil
}

func (s *System) buildSparing(mods []Module) error {
	ch, keys := byChannel(mods)
	for _, k := range keys {
		ms := ch[k]
		cs := &channelSet{ID: fmt.Sprintf("SpareCPU%d%s", k.socket, profile.ChannelLetter(k.channel)), base: map[string]uint64{}}
		var ranks []sparing.Rank
		off := uint64(0)
		for i, m := range ms {
			cs.Slots = append(cs.Slots, m.Slot)
			cs.rankBytes = m.Capacity / uint64(m.Ranks)
			cs.base[m.Slot] = off
			for r := range m.Ranks {
				ranks = append(ranks, sparing.Rank{Module: m.Slot, Rank: r})
			}
			off += m.Capacity
			if i == len(ms)-1 {
				off -= cs.rankBytes
			}
		}
		c, err := sparing.New(ranks, cs.rankBytes, len(ranks)-1)
		if err != nil {
			return err
		}
		cs.ch = c
		for _, m := range ms {
			s.chans[m.Slot] = cs
		}
		s.sets = append(s.sets, cs)
	}
	return nil
}

func (s *System) buildMirrors(mods []Module) error {
	ch, _ := byChannel(mods)
	for _, pair := range s.plan.MirrorPairs {
		for i, a := range ch[chanKey{pair[0], pair[1]}] {
			b := ch[chanKey{pair[0], pair[2]}][i]
			m, err := mirror.New(a.Capacity, b.Capacity)
			if err != nil {
				return err
			}
			ps := &pairSet{ID: fmt.Sprintf("Mirror%d", len(s.sets)), Sides: [2]string{a.Slot, b.Slot}, m: m}
			s.mirrors[a.Slot], s.mirrors[b.Slot] = ps, ps
			s.sets = append(s.sets, ps)
		}
	}
	return nil
}

func (s *System) buildRAID(mods []Module) error {
	a, err := raid5.New(s.plan.CartridgeBytes)
	if err != nil {
		return err
	}
	rs := &raidSet{a: a, cart: map[string]int{}, off: map[string]uint64{}, bytes: s.plan.CartridgeBytes}
	sorted := slices.Clone(mods)
	slices.SortFunc(sorted, func(x, y Module) int {
		return cmp.Or(cmp.Compare(x.Cartridge, y.Cartridge), cmp.Compare(x.Channel, y.Channel), cmp.Compare(x.Position, y.Position))
	})
	var fill [raid5.Cartridges]uint64
	for _, m := range sorted {
		rs.cart[m.Slot] = m.Cartridge
		rs.off[m.Slot] = fill[m.Cartridge]
		fill[m.Cartridge] += m.Capacity
		rs.members[m.Cartridge] = append(rs.members[m.Cartridge], m.Slot)
	}
	s.raid = rs
	s.sets = append(s.sets, rs)
	return nil
}

// set implementations.

func (c *channelSet) id() string      { return c.ID }
func (c *channelSet) name() string    { return "rank spare of channel " + c.ID[len("Spare"):] }
func (c *channelSet) kind() string    { return "RankSparing" }
func (c *channelSet) slots() []string { return c.Slots }
func (c *channelSet) state() string {
	for i := range c.ch.Ranks() {
		if c.ch.State(i) == sparing.Spare {
			return events.FullyRedundant
		}
	}
	return events.RedundancyDegraded
}

func (p *pairSet) id() string      { return p.ID }
func (p *pairSet) name() string    { return "mirror " + p.Sides[0] + " + " + p.Sides[1] }
func (p *pairSet) kind() string    { return "Mirroring" }
func (p *pairSet) slots() []string { return p.Sides[:] }
func (p *pairSet) state() string {
	switch p.m.Redundancy() {
	case mirror.FullyRedundant:
		return events.FullyRedundant
	case mirror.RedundancyLost:
		return events.RedundancyLost
	}
	return events.NonRedundant
}

func (r *raidSet) id() string   { return "RAID5" }
func (r *raidSet) name() string { return "RAID5 memory array" }
func (r *raidSet) kind() string { return "RAID5" }
func (r *raidSet) slots() []string {
	var out []string
	for _, m := range r.members {
		out = append(out, m...)
	}
	return out
}
func (r *raidSet) state() string {
	switch r.a.State() {
	case raid5.Optimal:
		return events.FullyRedundant
	case raid5.Degraded, raid5.Rebuild:
		return events.RedundancyDegraded
	}
	return events.NonRedundant
}

// Reliable reports whether boot module slot decodes mirrored memory in
// AddressRangeMirror: the firmware lays such modules out of the interleave
// set, as one contiguous range per socket marked EFI_MEMORY_MORE_RELIABLE.
func (s *System) Reliable(slot string) bool {
	p := s.mirrors[slot]
	return s.plan.Mode == AddressRangeMirror && p != nil && p.Sides[0] == slot
}

// Plan is the boot plan in effect.
func (s *System) Plan() Plan { return s.plan }

// SetTAD installs the decoder table page traffic is routed through; the
// platform calls it after boot and after every hot-plug.
func (s *System) SetTAD(t *firmware.TAD) { s.tad = t }

// Decoded is firmware.Redundancy's question: how much of boot module slot
// the TAD maps.
func (s *System) Decoded(slot string, capacity uint64) uint64 {
	m, ok := s.mods[slot]
	if !ok {
		return capacity
	}
	switch s.plan.Mode {
	case RankSparing:
		for _, r := range s.plan.Spares {
			if r.Module == slot {
				return capacity - capacity/uint64(m.Ranks)
			}
		}
	case Mirroring, AddressRangeMirror:
		if p := s.mirrors[slot]; p != nil && p.Sides[1] == slot {
			return 0
		}
	case RAID5:
		if m.Cartridge == raid5.Cartridges-1 {
			return 0
		}
	}
	return capacity
}

// route finds the store behind system page frame pfn.
func (s *System) route(pfn uint64) (interface {
	pages.PageReader
	pages.PageWriter
}, uint64, error) {
	if s.tad == nil {
		return nil, 0, fmt.Errorf("%w: no decoder table", ErrNotDecoded)
	}
	slot, off, ok := s.tad.Decode(pfn << pages.PageShift)
	if !ok {
		return nil, 0, fmt.Errorf("%w: pfn %#x", ErrNotDecoded, pfn)
	}
	if p := s.mirrors[slot]; p != nil {
		return p.m, off >> pages.PageShift, nil
	}
	if c := s.chans[slot]; c != nil {
		return c.ch, (c.base[slot] + off) >> pages.PageShift, nil
	}
	if r := s.raid; r != nil {
		if c, ok := r.cart[slot]; ok {
			if boot := s.mods[slot].Capacity; off >= boot {
				at, ok := r.extAt[slot]
				if !ok {
					return nil, 0, fmt.Errorf("%w: %s+%#x is past its boot size and no extension", ErrNotDecoded, slot, off)
				}
				return r.a, (at + off - boot) >> pages.PageShift, nil
			}
			return r.a, (uint64(c)*r.bytes + r.off[slot] + off) >> pages.PageShift, nil
		}
	}
	return flatStore{s}, pfn, nil
}

// flatStore is plain ECC memory: a poisoned page reads as lost.
type flatStore struct{ s *System }

func (f flatStore) WritePage(pfn uint64, src *pages.Page) error {
	delete(f.s.poison, pfn) // a full-page write replaces poisoned data
	delete(f.s.lost, pfn)
	return f.s.flat.WritePage(pfn, src)
}

func (f flatStore) ReadPage(pfn uint64, dst *pages.Page) error {
	if f.s.poison[pfn] {
		return fmt.Errorf("%w: pfn %#x (uncorrectable error, no redundancy)", mirror.ErrDataLoss, pfn)
	}
	return f.s.flat.ReadPage(pfn, dst)
}

// WritePage writes system page frame pfn.
func (s *System) WritePage(pfn uint64, src *pages.Page) error {
	st, local, err := s.route(pfn)
	if err != nil {
		return err
	}
	err = st.WritePage(local, src)
	s.drain()
	return err
}

// ReadPage reads system page frame pfn; redundancy repairs what it can.
func (s *System) ReadPage(pfn uint64, dst *pages.Page) error {
	st, local, err := s.route(pfn)
	if err != nil {
		return err
	}
	err = st.ReadPage(local, dst)
	s.drain()
	return err
}

// Inject records one ECC error on a module's rank at simulated time at
// and lets the mode react: a CE threshold trip starts a spare copy (rank
// sparing); a UE fails a mirror side over, is reconstructed from RAID
// parity, or loses the data it hit (no redundancy). The error lands on
// the first page the workload wrote on that rank, or the rank's first
// page when it holds none.
func (s *System) Inject(at time.Duration, slot string, rank int, k ecc.Kind) error {
	return s.InjectAt(at, slot, rank, nil, k)
}

// InjectAt is Inject at a module-relative address inside the rank (nil:
// the first page the workload wrote there).
func (s *System) InjectAt(at time.Duration, slot string, rank int, addr *uint64, k ecc.Kind) error {
	g, ok := s.geo(slot)
	if !ok {
		return fmt.Errorf("%w: %s holds no module in service", ErrUnknownModule, slot)
	}
	if rank < 0 || rank >= g.Ranks {
		return fmt.Errorf("%w: %s has ranks 0..%d, not %d", ErrRefused, slot, g.Ranks-1, rank)
	}
	rankBytes := g.Capacity / uint64(g.Ranks)
	lo := uint64(rank) * rankBytes
	if addr != nil && (*addr < lo || *addr >= lo+rankBytes) {
		return fmt.Errorf("%w: %s rank %d spans module addresses %#x-%#x, not %#x", ErrRefused, slot, rank, lo, lo+rankBytes-1, *addr)
	}
	if addr == nil {
		v := s.victim(slot, rank, rankBytes)
		addr = &v
	}
	return s.inject(at, slot, rank, *addr, rankBytes, k)
}

func (s *System) inject(at time.Duration, slot string, rank int, addr, rankBytes uint64, k ecc.Kind) error {
	for _, e := range s.ecc.Inject(at, ecc.Location{Module: slot, Rank: rank, Addr: addr}, k) {
		s.eccEvent(e)
	}
	if k == ecc.Uncorrectable {
		s.uncorrectable(slot, rank, addr, rankBytes)
	}
	s.drain()
	return nil
}

// SetRate sets a module rank's error rates, in errors per simulated
// second, from at on (zero rates stop them): a CE storm is a high CE rate.
// Errors land at random addresses of the rank.
func (s *System) SetRate(at time.Duration, slot string, rank int, ce, ue float64) error {
	g, ok := s.geo(slot)
	if !ok {
		return fmt.Errorf("%w: %s holds no module in service", ErrUnknownModule, slot)
	}
	if rank < 0 || rank >= g.Ranks {
		return fmt.Errorf("%w: %s has ranks 0..%d, not %d", ErrRefused, slot, g.Ranks-1, rank)
	}
	defer s.drain()
	s.advance(at)
	rankBytes := g.Capacity / uint64(g.Ranks)
	if err := s.ecc.SetRate(slot, rank, ecc.Rate{CE: ce, UE: ue, Base: uint64(rank) * rankBytes, Span: rankBytes}); err != nil {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return nil
}

// Rated reports whether error rates are set (the platform then advances
// the model on its clock).
func (s *System) Rated() bool { return s.ecc.Rated() }

// Advance delivers the rated errors that arrived up to at.
func (s *System) Advance(at time.Duration) {
	s.advance(at)
	s.drain()
}

func (s *System) advance(at time.Duration) {
	if at < s.ecc.Now() {
		return
	}
	for _, e := range s.ecc.Advance(at) {
		s.eccEvent(e)
		if e.Kind == ecc.UncorrectableError {
			if g, ok := s.geo(e.Module); ok {
				s.uncorrectable(e.Module, e.Rank, e.Addr, g.Capacity/uint64(g.Ranks))
			}
		}
	}
}

// Written reports whether the workload wrote the page holding module
// address addr of slot (plain ECC and hot-added memory).
func (s *System) Written(slot string, addr uint64) bool {
	for _, pfn := range s.flat.PFNs() {
		if sl, off, ok := s.tad.Decode(pfn << pages.PageShift); ok && sl == slot && off>>pages.PageShift == addr>>pages.PageShift {
			return true
		}
	}
	return false
}

// victim picks the module-relative address an injected error hits.
func (s *System) victim(slot string, rank int, rankBytes uint64) uint64 {
	lo, hi := uint64(rank)*rankBytes, uint64(rank+1)*rankBytes
	pick := func(offs []uint64) uint64 {
		for _, o := range offs {
			if o >= lo && o < hi {
				return o
			}
		}
		return lo
	}
	switch {
	case s.mirrors[slot] != nil:
		p := s.mirrors[slot]
		side := slices.Index(p.Sides[:], slot)
		return pick(shifted(p.m.Side(side).PFNs(), 0))
	case s.chans[slot] != nil:
		c := s.chans[slot]
		i := slices.Index(c.ch.Ranks(), sparing.Rank{Module: slot, Rank: rank})
		if i < 0 {
			return lo
		}
		return pick(shifted(c.ch.Store(i).PFNs(), lo))
	case s.raid != nil && s.raidHas(slot):
		r := s.raid
		base := r.off[slot]
		var offs []uint64
		for _, st := range r.a.Cartridge(r.cart[slot]).PFNs() {
			if b := st << pages.PageShift; b >= base {
				offs = append(offs, b-base)
			}
		}
		return pick(offs)
	}
	var offs []uint64
	for _, pfn := range s.flat.PFNs() {
		if sl, off, ok := s.tad.Decode(pfn << pages.PageShift); ok && sl == slot {
			offs = append(offs, off)
		}
	}
	slices.Sort(offs)
	return pick(offs)
}

func (s *System) raidHas(slot string) bool { _, ok := s.raid.cart[slot]; return ok }

func shifted(pfns []uint64, base uint64) []uint64 {
	out := make([]uint64, len(pfns))
	for i, p := range pfns {
		out[i] = base + p<<pages.PageShift
	}
	return out
}

// uncorrectable applies a UE at module address addr.
func (s *System) uncorrectable(slot string, rank int, addr, rankBytes uint64) {
	page := addr >> pages.PageShift
	switch {
	case s.mirrors[slot] != nil:
		p := s.mirrors[slot]
		side := slices.Index(p.Sides[:], slot)
		_ = p.m.InjectUE(side, page)
		// Patrol scrub finds it at once: the side fails over, or with no
		// good copy left the page is reported lost.
		p.m.Scrub()
		s.emit(events.MemoryUncorrectableError{Slot: slot, Rank: rank, Address: addr, Recovered: p.m.Redundancy() != mirror.DataLost})
	case s.chans[slot] != nil:
		c := s.chans[slot]
		i := slices.Index(c.ch.Ranks(), sparing.Rank{Module: slot, Rank: rank})
		rankPFN := (addr - uint64(rank)*rankBytes) >> pages.PageShift
		_ = c.ch.InjectUE(i, rankPFN)
		s.emit(events.MemoryUncorrectableError{Slot: slot, Rank: rank, Address: addr})
		if c.ch.Store(i).Has(rankPFN) {
			s.emit(events.MemoryDataLost{Slot: slot, Address: addr, Pages: 1, Reason: "uncorrectable error on a spared channel: rank sparing does not protect against UEs"})
		}
	case s.raid != nil && s.raidHas(slot):
		r := s.raid
		c, stripe := r.cart[slot], (r.off[slot]+addr)>>pages.PageShift
		_ = r.a.InjectUE(c, stripe)
		recovered := true
		if pfn, parity := raid5.Logical(c, stripe); !parity && r.a.Cartridge(c).Has(stripe) {
			var buf pages.Page
			recovered = r.a.ReadPage(pfn, &buf) == nil
		}
		s.emit(events.MemoryUncorrectableError{Slot: slot, Rank: rank, Address: addr, Recovered: recovered})
	default:
		s.emit(events.MemoryUncorrectableError{Slot: slot, Rank: rank, Address: addr})
		for _, pfn := range s.flat.PFNs() {
			if sl, off, ok := s.tad.Decode(pfn << pages.PageShift); ok && sl == slot && off>>pages.PageShift == page {
				s.poison[pfn] = true
				if !s.lost[pfn] {
					s.lost[pfn] = true
					s.emit(events.MemoryDataLost{Slot: slot, Address: pfn << pages.PageShift, Pages: 1,
						Reason: "uncorrectable error with no redundancy (AdvancedECC)"})
				}
				return
			}
		}
	}
}

func (s *System) eccEvent(e ecc.Event) {
	switch e.Kind {
	case ecc.CorrectableError:
		s.emit(events.MemoryCorrectableError{Slot: e.Module, Rank: e.Rank, Address: e.Addr, Count: s.ecc.ModuleCounts(e.Module).Lifetime.CE})
	case ecc.ThresholdExceeded:
		s.emit(events.MemoryCEThresholdExceeded{Slot: e.Module, Rank: e.Rank, Level: e.Level})
		if c := s.chans[e.Module]; c != nil && s.job == nil {
			c.ch.HandleECC(e)
		}
	case ecc.LoggingLimitReached:
		s.emit(events.MemoryCELoggingLimit{Slot: e.Module})
	}
}

// Counts are a module's CE/UE counters.
func (s *System) Counts(slot string) ecc.Counts { return s.ecc.ModuleCounts(slot) }

// LoggingLimited reports whether a module's CE logging is suppressed.
func (s *System) LoggingLimited(slot string) bool { return s.ecc.LoggingLimited(slot) }

// ClearCurrentPeriod resets a module's current-period counters.
func (s *System) ClearCurrentPeriod(slot string) { s.ecc.ClearCurrentPeriod(slot) }

// CountErrors adds errors reported for a module without a rank (bus
// noise); see ecc.Model.Count.
func (s *System) CountErrors(slot string, ce, ue uint64) { s.ecc.Count(slot, ce, ue) }

// Lifetimes lists the lifetime ECC counters of every module that has any.
func (s *System) Lifetimes(slots []string) map[string]ecc.Counters {
	out := map[string]ecc.Counters{}
	for _, slot := range slots {
		if c := s.ecc.ModuleCounts(slot).Lifetime; c != (ecc.Counters{}) {
			out[slot] = c
		}
	}
	return out
}

// RestoreLifetimes seeds saved lifetime counters at boot.
func (s *System) RestoreLifetimes(saved map[string]ecc.Counters) {
	for slot, c := range saved {
		s.ecc.RestoreLifetime(slot, c)
	}
}

// ForgetModule drops a pulled module's error history: counters belong to
// the module, not to the slot.
func (s *System) ForgetModule(slot string) {
	s.ecc.Forget(slot)
	delete(s.failed, slot)
	delete(s.orphans, slot)
}

// Ejected is the OS having ejected the range of hot-added module slot
// (_EJ0). A mirrored pair is hot-added through its primary, so its range
// leaving ends the pair: the set is gone, and the secondary, which now
// mirrors nothing, may be powered down and pulled without the OS (its
// eject request is granted at once). Boot pairs are never ejected.
func (s *System) Ejected(slot string) {
	defer s.drain()
	p := s.mirrors[slot]
	if p == nil || p.Sides[0] != slot {
		return
	}
	if s.job != nil && s.job.set == set(p) {
		s.abort(fmt.Sprintf("%s was ejected during the re-silver", slot))
	}
	for _, side := range p.Sides {
		delete(s.mirrors, side)
		delete(s.mods, side)
	}
	s.sets = slices.DeleteFunc(s.sets, func(st set) bool { return st == set(p) })
	delete(s.last, p.ID)
	if _, ok := s.geo(p.Sides[1]); ok {
		s.orphans[p.Sides[1]] = true
	}
}

// FailModule is a module dying in its slot (not pulled): a mirror side
// fails over, a RAID cartridge drops out of the array (degraded, or fatal
// when another is out), and a module with no redundancy takes the data it
// held with it, reported. The module stays seated until replaced.
func (s *System) FailModule(slot string) error {
	if _, ok := s.geo(slot); !ok {
		return fmt.Errorf("%w: %s holds no module in service", ErrUnknownModule, slot)
	}
	defer s.drain()
	switch {
	case s.mirrors[slot] != nil:
		p := s.mirrors[slot]
		side := slices.Index(p.Sides[:], slot)
		if p.m.State(side) == mirror.Failed {
			return fmt.Errorf("%w: %s has failed already", ErrRefused, slot)
		}
		if s.job != nil && s.job.set == set(p) {
			s.abort(fmt.Sprintf("%s failed during the re-silver", slot))
		}
		p.m.Fail(side)
		if p.m.State(1-side) == mirror.Active {
			return nil // the failover event reports the side mapped out
		}
		s.emit(events.MemoryModuleMappedOut{Slot: slot, Rank: -1, Reason: "module failed with no good mirror copy left"})
	case s.raid != nil && s.raidHas(slot):
		r := s.raid
		c := r.cart[slot]
		if r.a.CartridgeState(c) == raid5.Failed {
			return fmt.Errorf("%w: cartridge %d is out of the array already", ErrRefused, c)
		}
		if r.a.CartridgeState(c) == raid5.Rebuilding && s.job != nil {
			s.abort(fmt.Sprintf("cartridge %d failed during its rebuild", c))
		}
		r.a.Fail(c)
		r.back[c] = map[string]uint64{} // every module of a failed board is replaced
		for _, m := range r.members[c] {
			s.emit(events.MemoryModuleMappedOut{Slot: m, Rank: -1,
				Reason: fmt.Sprintf("memory cartridge %d failed; replace the cartridge's modules", c)})
		}
	default:
		if s.failed[slot] {
			return fmt.Errorf("%w: %s has failed already", ErrRefused, slot)
		}
		s.failed[slot] = true
		lost := s.poisonModule(slot)
		s.emit(events.MemoryModuleMappedOut{Slot: slot, Rank: -1, Reason: "module failed; replace it"})
		if lost > 0 {
			s.emit(events.MemoryDataLost{Slot: slot, Pages: lost, Reason: "module failed with no redundancy"})
		}
	}
	return nil
}

// poisonModule makes every written page a module holds unreadable and
// returns how many there were.
func (s *System) poisonModule(slot string) int {
	n := 0
	if c := s.chans[slot]; c != nil {
		for i, r := range c.ch.Ranks() {
			if r.Module != slot {
				continue
			}
			for _, pfn := range c.ch.Store(i).PFNs() {
				_ = c.ch.InjectUE(i, pfn)
				n++
			}
		}
		return n
	}
	for _, pfn := range s.flat.PFNs() {
		if sl, _, ok := s.tad.Decode(pfn << pages.PageShift); ok && sl == slot && !s.lost[pfn] {
			s.poison[pfn], s.lost[pfn] = true, true
			n++
		}
	}
	return n
}

// Release is firmware.Redundancy's question for a module leaving its
// slot: may its set carry on without it?
func (s *System) Release(slot string, surprise bool) (bool, string) {
	defer s.drain()
	if s.orphans[slot] {
		delete(s.orphans, slot)
		return true, ""
	}
	for k, m := range s.held {
		if m.Slot == slot {
			delete(s.held, k)
			return true, ""
		}
	}
	if p := s.mirrors[slot]; p != nil {
		side := slices.Index(p.Sides[:], slot)
		other := p.m.State(1 - side)
		if p.m.State(side) == mirror.Failed {
			return true, ""
		}
		if other != mirror.Active && !surprise {
			return false, fmt.Sprintf("mirroring: %s holds the only good copy (%s is %v)", slot, p.Sides[1-side], other)
		}
		if s.job != nil && s.job.set == set(p) && !surprise {
			return false, fmt.Sprintf("mirroring: %s is re-silvering; wait for it to finish", s.job.slot)
		}
		if s.job != nil && s.job.set == set(p) {
			s.abort(fmt.Sprintf("%s was pulled during the re-silver", slot))
		}
		p.m.Fail(side)
		return other == mirror.Active, ""
	}
	if r := s.raid; r != nil && s.raidHas(slot) {
		c := r.cart[slot]
		if r.a.CartridgeState(c) == raid5.Failed {
			delete(r.back[c], slot)
			return true, ""
		}
		for o := range raid5.Cartridges {
			if o != c && r.a.CartridgeState(o) != raid5.Online && !surprise {
				return false, fmt.Sprintf("RAID memory: cartridge %d is %v; one cartridge at a time", o, r.a.CartridgeState(o))
			}
		}
		if r.a.CartridgeState(c) == raid5.Rebuilding && s.job != nil {
			s.abort(fmt.Sprintf("cartridge %d was pulled during its rebuild", c))
		}
		r.a.Fail(c)
		// The board's other modules stay seated: a replacement of this
		// one completes the cartridge with them.
		r.back[c] = map[string]uint64{}
		for _, m := range r.members[c] {
			if g, ok := s.geo(m); ok && m != slot {
				r.back[c][m] = g.Capacity
			}
		}
		return r.a.State() != raid5.Fatal, ""
	}
	if c := s.chans[slot]; c != nil && c.ch.Busy() && !surprise {
		return false, "rank sparing: a spare copy is running on the channel; no hot-plug until it completes"
	}
	if surprise && !s.failed[slot] {
		// Pulled with no redundant copy: whatever it held left with it.
		// The firmware maps its ways out next (firmware.AddressMap.Lose),
		// so this is the last moment its pages still decode to it.
		s.failed[slot] = true
		lost := s.poisonModule(slot)
		s.emit(events.MemoryModuleMappedOut{Slot: slot, Rank: -1, Reason: "surprise-removed with no redundancy: its share of the interleave set is no longer decoded"})
		if lost > 0 {
			s.emit(events.MemoryDataLost{Slot: slot, Pages: lost, Reason: "module surprise-removed with no redundancy"})
		}
	}
	return false, ""
}

// Insert is firmware.Redundancy's question for a trained module: is it a
// hot-replace (rebuilt by the hardware), an addition the mode allows, or
// refused?
func (s *System) Insert(mod Module) (act firmware.InsertAction, err error) {
	defer s.drain()
	slot, capacity, ranks := mod.Slot, mod.Capacity, mod.Ranks
	refuse := func(format string, a ...any) (firmware.InsertAction, error) {
		reason := fmt.Sprintf(format, a...)
		s.emit(events.MemoryReplaceRefused{Slot: slot, Reason: reason})
		return firmware.InsertAction{}, fmt.Errorf("%w: %s", ErrRefused, reason)
	}
	replace := firmware.InsertAction{Replace: true}
	switch s.plan.Mode {
	case Mirroring, AddressRangeMirror:
		p := s.mirrors[slot]
		if p == nil && s.plan.Mode == AddressRangeMirror {
			return firmware.InsertAction{}, nil // outside the mirrored range: plain hot-add
		}
		if p == nil {
			return s.pairUp(mod, refuse)
		}
		if s.job != nil {
			return refuse("mirroring: %s is being rebuilt; one operation at a time", s.job.slot)
		}
		side := slices.Index(p.Sides[:], slot)
		if m := s.mods[slot]; ranks != m.Ranks {
			return refuse("mirroring: %s needs a %d-rank module like its partner, not %d ranks", slot, m.Ranks, ranks)
		}
		if err := p.m.Replace(side, capacity); err != nil {
			return refuse("%v", err)
		}
		s.start(p, slot, "resilver", p.m.Side(1-side).Len(), p.m.Size(), p.m.Resilver)
		return replace, nil
	case RAID5:
		r := s.raid
		c, ok := r.cart[slot]
		if !ok {
			return refuse("RAID memory: capacity grows by upgrading whole cartridges one at a time, not by adding modules")
		}
		if r.a.CartridgeState(c) != raid5.Failed {
			return refuse("RAID memory: cartridge %d is %v; only a failed or removed cartridge is replaced", c, r.a.CartridgeState(c))
		}
		if s.job != nil {
			return refuse("RAID memory: cartridge %d is rebuilding; one cartridge at a time", r.cart[s.job.slot])
		}
		if r.back[c] == nil {
			r.back[c] = map[string]uint64{}
		}
		r.back[c][slot] = capacity
		if len(r.back[c]) < len(r.members[c]) {
			return replace, nil // the board is not complete yet
		}
		var total uint64
		for _, b := range r.back[c] {
			total += b
		}
		if err := r.a.Replace(c, total); err != nil {
			delete(r.back[c], slot)
			return refuse("%v", err)
		}
		r.back[c] = nil
		n := 0
		for o := range raid5.Cartridges {
			if o != c {
				n = max(n, r.a.Cartridge(o).Len())
			}
		}
		s.start(r, slot, "rebuild", n, total, r.a.Rebuild)
		return replace, nil
	case RankSparing:
		for _, c := range s.sets {
			if cs := c.(*channelSet); cs.ch.Busy() && s.sameChannel(cs, slot) {
				return refuse("rank sparing: a spare copy is running on the channel; no hot-plug until it completes")
			}
		}
	}
	return firmware.InsertAction{}, nil
}

// pairUp is mirrored hot-add: the first module of a pair waits, powered
// and unmapped; when its partner (same position on the paired channel)
// arrives and matches, the pair becomes a new mirror whose primary (the
// even channel's module) is hot-added through the OS, so the new range is
// usable only once both halves are in and mirrored.
func (s *System) pairUp(mod Module, refuse func(string, ...any) (firmware.InsertAction, error)) (firmware.InsertAction, error) {
	key := [3]int{mod.Socket, mod.Channel &^ 1, mod.Position}
	other, ok := s.held[key]
	if !ok || other.Slot == mod.Slot {
		s.held[key] = mod
		partner := fmt.Sprintf("channel %s position %d", profile.ChannelLetter(mod.Channel^1), mod.Position)
		s.emit(events.MemoryAwaitingPartner{Slot: mod.Slot, Reason: "mirroring: hot-add needs a matched pair; insert an identical module in " + partner})
		return firmware.InsertAction{Hold: "mirror partner on " + partner}, nil
	}
	if other.Capacity != mod.Capacity || other.Ranks != mod.Ranks {
		return refuse("mirroring: %s (%d GiB, %d ranks) does not match its partner %s (%d GiB, %d ranks)",
			mod.Slot, mod.Capacity>>30, mod.Ranks, other.Slot, other.Capacity>>30, other.Ranks)
	}
	if s.job != nil {
		return refuse("mirroring: %s is being rebuilt; one operation at a time", s.job.slot)
	}
	m, err := mirror.New(mod.Capacity, other.Capacity)
	if err != nil {
		return refuse("%v", err)
	}
	delete(s.held, key)
	primary, secondary := mod, other
	if mod.Channel%2 == 1 {
		primary, secondary = other, mod
	}
	ps := &pairSet{ID: fmt.Sprintf("Mirror%d", s.seq), Sides: [2]string{primary.Slot, secondary.Slot}, m: m}
	s.seq++
	s.mirrors[primary.Slot], s.mirrors[secondary.Slot] = ps, ps
	s.mods[primary.Slot], s.mods[secondary.Slot] = primary, secondary
	s.sets = append(s.sets, ps)
	s.last[ps.ID] = ps.state()
	if mod.Slot == primary.Slot {
		return firmware.InsertAction{Join: []string{secondary.Slot}}, nil
	}
	return firmware.InsertAction{Map: primary.Slot}, nil
}

// sameChannel: slot sits on channel set cs's channel (slot names end in
// the channel letter and position: CPU0_DIMM_A2 is on CPU0 channel A).
func (s *System) sameChannel(cs *channelSet, slot string) bool {
	ref := cs.Slots[0]
	return len(slot) == len(ref) && slot[:len(slot)-1] == ref[:len(ref)-1]
}

func (s *System) start(st set, slot, kind string, total int, bytes uint64, step func(int) (bool, error)) {
	s.job = &job{set: st, slot: slot, kind: kind, total: total, bytes: bytes, step: step}
	s.emit(events.MemoryRebuildStarted{Slot: slot, Set: st.id(), Op: kind, Total: total})
}

// Busy reports whether a copy (spare copy, re-silver, rebuild) runs.
func (s *System) Busy() bool { return s.job != nil }

// Step advances the running copy over budget more bytes of its extent
// and reports whether a copy is still running.
func (s *System) Step(budget uint64) bool {
	defer s.drain()
	if s.job == nil {
		return false
	}
	j := s.job
	j.moved = min(j.moved+budget, j.bytes)
	due := j.total
	if j.moved < j.bytes {
		due = int(uint64(j.total) * j.moved / max(j.bytes, 1))
	}
	n := due - j.done
	if n <= 0 && j.moved < j.bytes {
		return true
	}
	// n <= 0 with the extent covered: a final call with 0 finishes (the
	// engines treat n <= 0 as "all remaining").
	done, err := j.step(max(n, 0))
	if err != nil {
		s.abort(err.Error())
		return false
	}
	j.done = due
	if done {
		j.done = j.total
		s.job = nil
		s.emit(events.MemoryRebuildCompleted{Slot: j.slot, Set: j.set.id(), Op: j.kind, Pages: j.total})
		return false
	}
	if pct := int(j.moved * 100 / max(j.bytes, 1)); pct/10 > j.pct/10 {
		j.pct = pct
		s.emit(events.MemoryRebuildProgress{Slot: j.slot, Set: j.set.id(), Op: j.kind, Done: j.done, Total: j.total, Percent: pct})
	}
	return true
}

// abort ends the running copy without completing it, and says so: a
// client following it (a Redfish task) must not wait forever.
func (s *System) abort(reason string) {
	j := s.job
	s.job = nil
	s.emit(events.MemoryRebuildAborted{Slot: j.slot, Set: j.set.id(), Op: j.kind, Done: j.done, Total: j.total, Reason: reason})
}

// Job reports the running copy, nil when idle.
func (s *System) Job() *Job {
	if s.job == nil {
		return nil
	}
	j := s.job
	return &Job{Set: j.set.id(), Slot: j.slot, Kind: j.kind, Done: j.done, Total: j.total, Percent: int(j.moved * 100 / max(j.bytes, 1))}
}

func (s *System) emit(e events.Event) { s.evs = append(s.evs, e) }

// drain turns the engines' pending results into platform events and
// reports redundancy changes.
func (s *System) drain() {
	for _, st := range s.sets {
		switch x := st.(type) {
		case *channelSet:
			for _, e := range x.ch.Drain() {
				s.sparingEvent(x, e)
			}
		case *pairSet:
			for _, e := range x.m.Drain() {
				s.mirrorEvent(x, e)
			}
		case *raidSet:
			for _, e := range x.a.Drain() {
				s.raidEvent(x, e)
			}
		}
	}
	for _, st := range s.sets {
		if now := st.state(); now != s.last[st.id()] {
			s.last[st.id()] = now
			s.emit(events.MemoryRedundancyChanged{Set: st.id(), Slots: slices.Clone(st.slots()), State: now,
				Overall: s.Overall(), Reason: st.name() + ": " + now})
		}
	}
}

func (s *System) sparingEvent(c *channelSet, e sparing.Event) {
	switch e.Kind {
	case sparing.SpareCopyStarted:
		n := 0
		if i := slices.Index(c.ch.Ranks(), e.Rank); i >= 0 {
			n = c.ch.Store(i).Len()
		}
		s.job = &job{set: c, slot: e.Spare.Module, kind: "spare-copy", total: n, bytes: c.rankBytes, step: c.ch.Copy}
		s.emit(events.MemoryRebuildStarted{Slot: e.Spare.Module, Set: c.ID, Op: "spare-copy", Total: n})
	case sparing.SpareCopyComplete:
		s.emit(events.MemorySpareActivated{Slot: e.Rank.Module, Rank: e.Rank.Rank, SpareSlot: e.Spare.Module, SpareRank: e.Spare.Rank, Pages: e.Pages})
	case sparing.ReplaceModule:
		s.emit(events.MemoryModuleMappedOut{Slot: e.Rank.Module, Rank: e.Rank.Rank,
			Reason: "rank mapped out after crossing the correctable error threshold; replace the module at the next service window"})
	}
}

func (s *System) mirrorEvent(p *pairSet, e mirror.Event) {
	switch e.Kind {
	case mirror.Failover:
		failed := p.Sides[1-e.Side]
		s.emit(events.MemoryModuleMappedOut{Slot: failed, Rank: -1,
			Reason: fmt.Sprintf("mirror side disabled; reads fail over to %s until the module is replaced", p.Sides[e.Side])})
	case mirror.DataLoss:
		s.lose(e.PFN, fmt.Sprintf("mirror %s + %s: no good copy left", p.Sides[0], p.Sides[1]))
	}
}

func (s *System) raidEvent(r *raidSet, e raid5.Event) {
	switch e.Kind {
	case raid5.ArrayFailed:
		s.emit(events.MemoryDataLost{Pages: r.a.Cartridge(e.Cartridge).Len(),
			Reason: fmt.Sprintf("RAID memory: cartridge %d lost while the array was degraded; the array failed", e.Cartridge)})
	case raid5.DataLoss:
		s.lose(e.PFN, "RAID memory: stripes that cannot be reconstructed")
	case raid5.CapacityExpanded:
		reason := fmt.Sprintf("all five cartridges upgraded and rebuilt: the array holds %d GiB; the added %d GiB reach the OS as hot-added memory",
			e.Bytes>>30, (e.Bytes-raid5.Usable(r.bytes))>>30)
		if !s.planExtensions(r, e.Bytes) {
			reason = fmt.Sprintf("all five cartridges upgraded and rebuilt: the array holds %d GiB; the firmware maps the added capacity at the next boot", e.Bytes>>30)
		}
		s.emit(events.MemoryCapacityExpanded{Set: r.id(), UsableBytes: e.Bytes, Reason: reason})
	}
}

// planExtensions lays the array's added capacity (past its boot size, up
// to size) over the data cartridges' modules: cartridge c's share follows
// the shares of the cartridges before it, each module's in its
// cartridge's order. It reports false when the added capacity cannot be
// decoded online (grown once already this boot, or a module's growth does
// not add up to its cartridge's): then it waits for the next boot.
func (s *System) planExtensions(r *raidSet, size uint64) bool {
	if r.extAt != nil {
		return false
	}
	per := (size - raid5.Usable(r.bytes)) / raid5.DataUnits
	at := map[string]uint64{}
	var exts []Extension
	for c := range raid5.DataUnits {
		base := raid5.Usable(r.bytes) + uint64(c)*per
		var sum uint64
		for _, slot := range r.members[c] {
			g, ok := s.geo(slot)
			boot := s.mods[slot].Capacity
			if !ok || g.Capacity <= boot {
				return false
			}
			at[slot] = base + sum
			exts = append(exts, Extension{Slot: slot, Bytes: g.Capacity - boot})
			sum += g.Capacity - boot
		}
		if sum != per {
			return false
		}
	}
	r.extAt, r.pending = at, exts
	return true
}

// GrowthReserve is the address space the firmware holds back on socket
// for online growth: a RAID5 array's boot size on the socket of its data
// cartridges, so upgrading every cartridge to twice the size is mapped at
// once.
func (s *System) GrowthReserve(socket int) uint64 {
	if s.raid == nil {
		return 0
	}
	var n uint64
	for c := range raid5.DataUnits {
		for _, slot := range s.raid.members[c] {
			if s.mods[slot].Socket == socket {
				n += s.mods[slot].Capacity
			}
		}
	}
	return n
}

// TakeExtensions returns (and forgets) the extensions the firmware should
// map now.
func (s *System) TakeExtensions() []Extension {
	if s.raid == nil {
		return nil
	}
	out := s.raid.pending
	s.raid.pending = nil
	return out
}

// Extended records that the firmware decoded an extension: the array's
// usable size grows by it.
func (s *System) Extended(x Extension) {
	if s.raid != nil {
		s.raid.mapped += x.Bytes
	}
}

// lose counts a lost page; drain reports the pages one operation lost as
// one event (a verify of a failed array would otherwise flood every log).
func (s *System) lose(pfn uint64, reason string) {
	if n := len(s.evs); n > 0 {
		if last, ok := s.evs[n-1].(events.MemoryDataLost); ok && last.Reason == reason {
			last.Pages++
			s.evs[n-1] = last
			return
		}
	}
	s.emit(events.MemoryDataLost{Address: pfn << pages.PageShift, Pages: 1, Reason: reason})
}

// Take returns and clears the events produced since the last call.
func (s *System) Take() []events.Event {
	out := s.evs
	s.evs = nil
	return out
}

var severity = map[string]int{"": 0, events.FullyRedundant: 1, events.RedundancyDegraded: 2, events.RedundancyLost: 3, events.NonRedundant: 4}

// Overall is the worst redundancy state of any set ("" without sets).
func (s *System) Overall() string {
	worst := ""
	for _, st := range s.sets {
		if v := st.state(); severity[v] > severity[worst] {
			worst = v
		}
	}
	return worst
}

// SetStatus is one redundant set, for snapshots.
type SetStatus struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Kind  string   `json:"kind"`
	Slots []string `json:"slots"`
	State string   `json:"state"`
	// UsableBytes is the OS-visible capacity the set provides.
	UsableBytes uint64 `json:"usable_bytes"`
}

// Sets lists the redundant sets.
func (s *System) Sets() []SetStatus {
	out := make([]SetStatus, 0, len(s.sets))
	for _, st := range s.sets {
		ss := SetStatus{ID: st.id(), Name: st.name(), Kind: st.kind(), Slots: slices.Clone(st.slots()), State: st.state()}
		switch x := st.(type) {
		case *channelSet:
			ss.UsableBytes = x.ch.Size()
		case *pairSet:
			ss.UsableBytes = x.m.Size()
		case *raidSet:
			// An array grown by upgrading its cartridges is mapped at its
			// new size only from the next boot: until then the OS sees
			// what the boot plan mapped.
			ss.UsableBytes = min(x.a.Size(), s.plan.Usable+x.mapped)
		}
		out = append(out, ss)
	}
	return out
}

// ModuleStatus is one module's RAS role and state.
type ModuleStatus struct {
	// Role: Data, MirrorPrimary, MirrorSecondary, Cartridge.
	Role string `json:"role"`
	Set  string `json:"set,omitempty"`
	// State: Active, Failed, Resilvering (mirror); Unpaired (the secondary
	// of a hot-added pair whose range the OS ejected: it mirrors nothing
	// and waits to be pulled); Online, Failed, Rebuilding (cartridge);
	// Active or MappedOut (sparing: any rank mapped out).
	State          string     `json:"state"`
	Cartridge      int        `json:"cartridge"` // -1 unless RAID5
	SpareRanks     int        `json:"spare_ranks"`
	MappedOutRanks int        `json:"mapped_out_ranks"`
	Errors         ecc.Counts `json:"errors"`
	LoggingLimited bool       `json:"logging_limited"`
	// ThresholdTripped: a rank crossed the CE threshold this period.
	ThresholdTripped bool `json:"threshold_tripped,omitempty"`
	// UnprotectedUE: a rank of the module took an uncorrectable error
	// this period and no mirror copy or RAID parity covers it
	// (AdvancedECC, rank sparing). It stays so until serviced (a removal
	// forgets the counters) or its current period is cleared; the
	// lifetime count alone does not keep it, or a DIMM would be critical
	// forever. Bus-noise UEs are counted without a rank and do not set
	// it: the channel recovers and the module's cells are sound.
	UnprotectedUE bool `json:"unprotected_ue,omitempty"`
}

// Module reports a module's status (ok=false for a slot RAS knows nothing
// of and that had no error).
func (s *System) Module(slot string) (ModuleStatus, bool) {
	ms := ModuleStatus{Role: "Data", State: "Active", Cartridge: -1, Errors: s.ecc.ModuleCounts(slot), LoggingLimited: s.ecc.LoggingLimited(slot),
		ThresholdTripped: s.ecc.ThresholdTripped(slot)}
	_, boot := s.mods[slot]
	switch {
	case s.mirrors[slot] != nil:
		p := s.mirrors[slot]
		side := slices.Index(p.Sides[:], slot)
		ms.Role, ms.Set, ms.State = [2]string{"MirrorPrimary", "MirrorSecondary"}[side], p.ID, p.m.State(side).String()
	case s.chans[slot] != nil:
		c := s.chans[slot]
		ms.Set = c.ID
		for i, r := range c.ch.Ranks() {
			if r.Module != slot {
				continue
			}
			switch c.ch.State(i) {
			case sparing.Spare, sparing.Copying:
				ms.SpareRanks++
			case sparing.MappedOut:
				ms.MappedOutRanks++
				ms.State = "MappedOut"
			}
		}
	case s.raid != nil && s.raidHas(slot):
		c := s.raid.cart[slot]
		ms.Role, ms.Set, ms.Cartridge, ms.State = "Cartridge", "RAID5", c, s.raid.a.CartridgeState(c).String()
	case s.orphans[slot]:
		ms.Role, ms.State = "MirrorSecondary", "Unpaired"
	default:
		if !boot && ms.Errors == (ecc.Counts{}) && !s.failed[slot] {
			return ms, false
		}
	}
	if s.failed[slot] {
		ms.State = "Failed"
	}
	// Mirror sides and cartridges have their own failover story (State
	// Failed); only a module nothing covers is left with the UE.
	covered := s.mirrors[slot] != nil || (s.raid != nil && s.raidHas(slot))
	ms.UnprotectedUE = !covered && s.ecc.MediaUE(slot)
	return ms, true
}
