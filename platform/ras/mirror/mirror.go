// Package mirror is full memory mirroring over the page store: two
// identical sides, every write goes to both, reads come from the primary
// active side. An uncorrectable error on one side fails over to the other
// with no data loss and reports redundancy lost (the failed side is
// disabled, no fail-back); hot-replacing the failed side re-silvers it from
// the good side and restores full redundancy. A UE with no redundancy left
// is reported as data loss, never returned as bytes.
package mirror

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/bmcemu/bmcemu/platform/ras/pages"
)

// Usable is the OS-visible capacity of a mirror built from raw bytes of
// identical modules: half.
func Usable(raw uint64) uint64 { return raw / 2 }

// SideState is the state of one side.
type SideState uint8

// Side states.
const (
	Active      SideState = iota // in service
	Failed                       // disabled after a UE or a failure; awaiting replacement
	Resilvering                  // replacement receiving the good side's contents
)

func (s SideState) String() string {
	return [...]string{"Active", "Failed", "Resilvering"}[s]
}

// Redundancy is the mirror's redundancy state (IPMI event type 0x0B).
type Redundancy uint8

// Redundancy states.
const (
	FullyRedundant Redundancy = iota
	RedundancyLost            // one side serving, the other failed or resilvering
	DataLost                  // no good copy of some data is left
)

func (r Redundancy) String() string {
	return [...]string{"FullyRedundant", "RedundancyLost", "DataLost"}[r]
}

// EventKind names a mirror event.
type EventKind string

// Event kinds.
const (
	UncorrectableError EventKind = "UncorrectableError" // a UE read on Side at PFN
	Failover           EventKind = "Failover"           // reads now come from the other side
	LostRedundancy     EventKind = "RedundancyLost"
	ResilverStarted    EventKind = "ResilverStarted"
	ResilverComplete   EventKind = "ResilverComplete"
	Redundant          EventKind = "FullyRedundant"
	DataLoss           EventKind = "DataLoss" // fatal: PFN has no good copy
)

// Event is a plain result for the platform to map.
type Event struct {
	Kind  EventKind
	Side  int
	PFN   uint64
	Pages int // ResilverComplete: pages copied
}

// Errors.
var (
	ErrDataLoss    = errors.New("mirror: uncorrectable error with no redundant copy (data lost)")
	ErrOutOfRange  = errors.New("mirror: page outside the mirrored range")
	ErrMismatch    = errors.New("mirror: sides must be identical modules")
	ErrRefused     = errors.New("mirror: operation refused")
	ErrNotResilver = errors.New("mirror: no re-silver in progress")
)

// Mirror is a full mirror of Size bytes (the usable capacity; each side
// holds Size). Page frames are mirror-relative. Not safe for concurrent use.
type Mirror struct {
	size   uint64
	sides  [2]*pages.Store
	state  [2]SideState
	poison [2]map[uint64]bool
	lost   map[uint64]bool // pages with no good copy
	todo   []pages.Frames  // re-silver work list, ascending runs
	left   int             // pages in todo
	events []Event
}

// New builds a mirror from two modules of sideBytes each.
func New(sideA, sideB uint64) (*Mirror, error) {
	if sideA != sideB || sideA == 0 || sideA%pages.PageSize != 0 {
		return nil, fmt.Errorf("%w: %d vs %d bytes", ErrMismatch, sideA, sideB)
	}
	m := &Mirror{size: sideA, lost: map[uint64]bool{}}
	for i := range m.sides {
		m.sides[i] = pages.New()
		m.poison[i] = map[uint64]bool{}
	}
	return m, nil
}

// Size is the usable capacity in bytes.
func (m *Mirror) Size() uint64 { return m.size }

// State is side i's state.
func (m *Mirror) State(i int) SideState { return m.state[i] }

// Redundancy is the current redundancy state.
func (m *Mirror) Redundancy() Redundancy {
	switch {
	case len(m.lost) > 0 || m.state[0] == Failed && m.state[1] == Failed:
		return DataLost
	case m.state[0] == Active && m.state[1] == Active:
		return FullyRedundant
	}
	return RedundancyLost
}

// Side exposes side i's store (read-only use: tests, scrubbing views).
func (m *Mirror) Side(i int) *pages.Store { return m.sides[i] }

// Drain returns and clears the pending events.
func (m *Mirror) Drain() []Event {
	out := m.events
	m.events = nil
	return out
}

func (m *Mirror) emit(e Event) { m.events = append(m.events, e) }

func (m *Mirror) check(pfn uint64) error {
	if pfn >= m.size/pages.PageSize {
		return fmt.Errorf("%w: pfn %#x of %#x", ErrOutOfRange, pfn, m.size/pages.PageSize)
	}
	return nil
}

// WritePage writes to every side in service (active or being re-silvered).
// A full-page write replaces poisoned contents and recovers lost pages.
func (m *Mirror) WritePage(pfn uint64, src *pages.Page) error {
	if err := m.check(pfn); err != nil {
		return err
	}
	if m.state[0] == Failed && m.state[1] == Failed {
		return fmt.Errorf("%w: both sides failed", ErrDataLoss)
	}
	for i, s := range m.sides {
		if m.state[i] != Failed {
			_ = s.WritePage(pfn, src)
			delete(m.poison[i], pfn)
		}
	}
	delete(m.lost, pfn)
	return nil
}

// InjectUE poisons pfn on side i: the next read of it there is an
// uncorrectable error.
func (m *Mirror) InjectUE(side int, pfn uint64) error {
	if err := m.check(pfn); err != nil {
		return err
	}
	m.poison[side][pfn] = true
	return nil
}

// fail disables side i, after a UE at pfn when ue is set.
func (m *Mirror) fail(i int, pfn uint64, ue bool) {
	if ue {
		m.emit(Event{Kind: UncorrectableError, Side: i, PFN: pfn})
	}
	if m.state[i] == Failed {
		return
	}
	wasResilvering := m.state[i] == Resilvering
	m.state[i] = Failed
	m.todo, m.left = nil, 0
	switch {
	case m.state[1-i] != Active:
		// The last good copy is gone (a replacement still re-silvering
		// holds only part of it): everything is lost.
		m.state[1-i] = Failed
		m.emit(Event{Kind: DataLoss, Side: i, PFN: pfn})
	case !wasResilvering:
		m.emit(Event{Kind: Failover, Side: 1 - i, PFN: pfn})
		m.emit(Event{Kind: LostRedundancy, Side: i, PFN: pfn})
	}
}

// ReadPage reads from the first active side; a UE there fails over to the
// other side when it holds a good copy. With no good copy left the page
// is reported lost (ErrDataLoss and a DataLoss event), never returned.
func (m *Mirror) ReadPage(pfn uint64, dst *pages.Page) error {
	if err := m.check(pfn); err != nil {
		return err
	}
	if m.state[0] == Failed && m.state[1] == Failed {
		return fmt.Errorf("%w: both sides failed", ErrDataLoss)
	}
	if m.lost[pfn] {
		return fmt.Errorf("%w: pfn %#x", ErrDataLoss, pfn)
	}
	for i := range m.sides {
		if m.state[i] != Active {
			continue
		}
		if !m.poison[i][pfn] {
			return m.sides[i].ReadPage(pfn, dst)
		}
		if m.state[1-i] == Active {
			m.fail(i, pfn, true) // fail over; the loop reads the other side
			continue
		}
		m.emit(Event{Kind: UncorrectableError, Side: i, PFN: pfn})
		break
	}
	m.loseAt(pfn)
	return fmt.Errorf("%w: pfn %#x", ErrDataLoss, pfn)
}

func (m *Mirror) loseAt(pfn uint64) {
	if !m.lost[pfn] {
		m.lost[pfn] = true
		m.emit(Event{Kind: DataLoss, Side: -1, PFN: pfn})
	}
}

// Scrub is a patrol scrub: it finds the poisoned pages of every active
// side, so latent UEs on the side reads do not come from fail that side
// over before they matter; on the last good copy each poisoned page is
// reported lost. It returns how many poisoned pages it found.
func (m *Mirror) Scrub() int {
	n := 0
	for i := range m.sides {
		if m.state[i] != Active {
			continue
		}
		bad := slices.Sorted(maps.Keys(m.poison[i]))
		n += len(bad)
		switch {
		case len(bad) == 0:
		case m.state[1-i] == Active:
			m.fail(i, bad[0], true)
		default: // the last copy: each poisoned page is lost
			for _, pfn := range bad {
				if !m.lost[pfn] {
					m.emit(Event{Kind: UncorrectableError, Side: i, PFN: pfn})
				}
				m.loseAt(pfn)
			}
		}
	}
	return n
}

// Fail disables side i (module failure or removal).
func (m *Mirror) Fail(i int) {
	m.fail(i, 0, false)
}

// Replace starts re-silvering a new module of capacity bytes into failed
// side i. It is refused unless side i failed, the other side is active
// and the module matches.
func (m *Mirror) Replace(i int, capacity uint64) error {
	switch {
	case m.state[i] != Failed:
		return fmt.Errorf("%w: side %d is %v, not Failed", ErrRefused, i, m.state[i])
	case m.state[1-i] != Active:
		return fmt.Errorf("%w: side %d is %v; nothing to re-silver from", ErrRefused, 1-i, m.state[1-i])
	case capacity != m.size:
		return fmt.Errorf("%w: replacement of %d bytes for a side of %d", ErrMismatch, capacity, m.size)
	}
	m.todo, m.left = m.sides[1-i].Runs(), m.sides[1-i].Len()
	m.sides[i].Reset() // the new module reuses the failed one's backing memory
	m.poison[i] = map[uint64]bool{}
	m.state[i] = Resilvering
	m.emit(Event{Kind: ResilverStarted, Side: i})
	return nil
}

// Resilver copies up to n pages (n <= 0: all remaining) from the good side
// onto the resilvering one and reports whether it finished. Writes made
// meanwhile already went to both sides. A UE on the good side for a page
// not yet copied loses that page (reported).
func (m *Mirror) Resilver(n int) (bool, error) {
	dst := slices.Index(m.state[:], Resilvering)
	if dst < 0 {
		return false, ErrNotResilver
	}
	src := 1 - dst
	if n <= 0 || n > m.left {
		n = m.left
	}
	var bad []uint64 // the good side's poisoned pages, ascending
	if len(m.poison[src]) > 0 {
		bad = slices.Sorted(maps.Keys(m.poison[src]))
	}
	from, to := m.sides[src], m.sides[dst]
	for n > 0 {
		// The next n pages of the work list, run by run; within a run,
		// copy up to each poisoned page (one copy call per stretch the
		// two stores hold contiguously), then lose that page.
		r := &m.todo[0]
		k := min(r.N, uint64(n))
		first, end := r.First, r.First+k
		i, _ := slices.BinarySearch(bad, first)
		for ; i < len(bad) && bad[i] < end; i++ {
			pfn := bad[i]
			to.CopyFrames(from, pages.Frames{First: first, N: pfn - first})
			if !m.lost[pfn] {
				m.emit(Event{Kind: UncorrectableError, Side: src, PFN: pfn})
				m.loseAt(pfn)
			}
			first = pfn + 1
		}
		to.CopyFrames(from, pages.Frames{First: first, N: end - first})
		r.First, r.N = end, r.N-k
		if r.N == 0 {
			m.todo = m.todo[1:]
		}
		n -= int(k)
		m.left -= int(k)
	}
	if m.left > 0 {
		return false, nil
	}
	m.todo = nil
	m.state[dst] = Active
	m.emit(Event{Kind: ResilverComplete, Side: dst, Pages: to.Len()})
	if m.Redundancy() == FullyRedundant {
		m.emit(Event{Kind: Redundant})
	}
	return true, nil
}
