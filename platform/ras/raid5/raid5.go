package raid5

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"

	"github.com/bmcemu/bmcemu/platform/ras/pages"
)

// CartState is one cartridge's state.
type CartState uint8

// Cartridge states.
const (
	Online     CartState = iota
	Failed               // failed or removed; its units are reconstructed
	Rebuilding           // replacement being rebuilt
)

func (s CartState) String() string { return [...]string{"Online", "Failed", "Rebuilding"}[s] }

// State is the array's state.
type State uint8

// Array states (IPMI redundancy offsets: Fully Redundant, Redundancy
// Degraded; Fatal has no redundancy and lost data).
const (
	Optimal State = iota
	Degraded
	Rebuild
	Fatal
)

func (s State) String() string { return [...]string{"Optimal", "Degraded", "Rebuilding", "Fatal"}[s] }

// EventKind names an array event.
type EventKind string

// Event kinds.
const (
	CartridgeFailed    EventKind = "CartridgeFailed"
	RedundancyDegraded EventKind = "RedundancyDegraded"
	RebuildStarted     EventKind = "RebuildStarted"
	RebuildAborted     EventKind = "RebuildAborted"
	RebuildComplete    EventKind = "RebuildComplete"
	FullyRedundant     EventKind = "FullyRedundant"
	// CapacityExpanded: every cartridge now carries a larger capacity;
	// Bytes is the new usable size.
	CapacityExpanded EventKind = "CapacityExpanded"
	// CorrectedByParity: a UE on Cartridge at Stripe, reconstructed from
	// parity and written back.
	CorrectedByParity EventKind = "CorrectedByParity"
	// ArrayFailed: a second cartridge lost while degraded or rebuilding.
	ArrayFailed EventKind = "ArrayFailed"
	// DataLoss: PFN has no good copy (read or rebuild hit it).
	DataLoss EventKind = "DataLoss"
)

// Event is a plain result for the platform to map.
type Event struct {
	Kind      EventKind
	Cartridge int
	Stripe    uint64
	PFN       uint64 // DataLoss
	Stripes   int    // RebuildComplete: stripes reconstructed
	Bytes     uint64 // RebuildStarted: the cartridge's capacity; CapacityExpanded: usable bytes
}

// Errors.
var (
	ErrDataLoss    = errors.New("raid5: data lost (no redundancy to reconstruct it)")
	ErrArrayFailed = errors.New("raid5: array failed (second cartridge lost)")
	ErrOutOfRange  = errors.New("raid5: page outside the array")
	ErrRefused     = errors.New("raid5: operation refused")
	ErrNoRebuild   = errors.New("raid5: no rebuild in progress")
)

// Array is a RAID5 memory array. Page frames are array-relative. Not safe
// for concurrent use.
type Array struct {
	cart       uint64 // bytes per cartridge in use (the array's stripes)
	caps       [Cartridges]uint64
	carts      [Cartridges]*pages.Store
	state      [Cartridges]CartState
	poison     [Cartridges]map[uint64]bool // by stripe
	fatal      bool
	rebuilding int      // cartridge, -1 when none
	todo       []uint64 // stripes left to rebuild, ascending
	next       uint64   // stripes below are rebuilt on the rebuilding cartridge
	lost       map[uint64]bool
	events     []Event
	buf        pages.Page
}

// New builds an array of five cartridges of cartridge bytes each.
func New(cartridge uint64) (*Array, error) {
	if cartridge == 0 || cartridge%Unit != 0 {
		return nil, fmt.Errorf("%w: cartridge of %d bytes", ErrRefused, cartridge)
	}
	a := &Array{cart: cartridge, rebuilding: -1, lost: map[uint64]bool{}}
	for c := range a.carts {
		a.caps[c] = cartridge
		a.carts[c] = pages.New()
		a.poison[c] = map[uint64]bool{}
	}
	return a, nil
}

// Size is the usable capacity in bytes.
func (a *Array) Size() uint64 { return Usable(a.cart) }

// CartridgeState is cartridge c's state.
func (a *Array) CartridgeState(c int) CartState { return a.state[c] }

// Cartridge exposes cartridge c's store (tests, inspection).
func (a *Array) Cartridge(c int) *pages.Store { return a.carts[c] }

// State is the array's state.
func (a *Array) State() State {
	switch {
	case a.fatal:
		return Fatal
	case a.rebuilding >= 0:
		return Rebuild
	case slices.Contains(a.state[:], Failed):
		return Degraded
	}
	return Optimal
}

// Drain returns and clears the pending events.
func (a *Array) Drain() []Event {
	out := a.events
	a.events = nil
	return out
}

func (a *Array) emit(e Event) { a.events = append(a.events, e) }

func (a *Array) check(pfn uint64) error {
	if pfn >= a.Size()/Unit {
		return fmt.Errorf("%w: pfn %#x of %#x", ErrOutOfRange, pfn, a.Size()/Unit)
	}
	return nil
}

// avail reports whether cartridge c's unit of stripe s can be read as is.
func (a *Array) avail(c int, s uint64) bool {
	switch a.state[c] {
	case Online:
		return !a.poison[c][s]
	case Rebuilding:
		return s < a.next && !a.poison[c][s]
	}
	return false
}

// xorOthers sets dst to the XOR of every unit of stripe s except
// cartridge skip's (and except cartridge sub's, whose unit is taken from
// subPage when sub >= 0). It fails when a needed unit is unavailable.
func (a *Array) xorOthers(dst *pages.Page, s uint64, skip, sub int, subPage *pages.Page) bool {
	*dst = pages.Page{}
	for c := range a.carts {
		if c == skip {
			continue
		}
		var p *pages.Page
		if c == sub {
			p = subPage
		} else {
			if !a.avail(c, s) {
				return false
			}
			p = a.carts[c].Page(s)
		}
		if p != nil {
			subtle.XORBytes(dst[:], dst[:], p[:])
		}
	}
	return true
}

// store writes a unit to cartridge c unless it is failed.
func (a *Array) store(c int, s uint64, p *pages.Page) {
	if a.state[c] != Failed {
		_ = a.carts[c].WritePage(s, p)
		delete(a.poison[c], s)
	}
}

// WritePage writes one page: data and updated parity. Writes are refused
// once the array failed.
func (a *Array) WritePage(pfn uint64, src *pages.Page) error {
	if err := a.check(pfn); err != nil {
		return err
	}
	if a.fatal {
		return ErrArrayFailed
	}
	d, s := Locate(pfn)
	p := ParityOf(s)
	var parity pages.Page
	if a.avail(d, s) && a.avail(p, s) {
		// Read-modify-write: P' = P ^ D ^ D'.
		parity = pages.Page{}
		if old := a.carts[p].Page(s); old != nil {
			parity = *old
		}
		if old := a.carts[d].Page(s); old != nil {
			subtle.XORBytes(parity[:], parity[:], old[:])
		}
		subtle.XORBytes(parity[:], parity[:], src[:])
	} else if !a.xorOthers(&parity, s, p, d, src) {
		// Reconstruct-write: P' = XOR of the stripe's data with D'. With
		// one unit unavailable besides (at most) d or p this cannot fail
		// short of a fatal array, which was refused above.
		return fmt.Errorf("%w: pfn %#x: stripe %d cannot be updated", ErrDataLoss, pfn, s)
	}
	a.store(d, s, src)
	a.store(p, s, &parity)
	delete(a.lost, pfn)
	return nil
}

// ReadPage reads one page, reconstructing it from the other four units
// when its cartridge is failed (degraded mode), not yet rebuilt, or the
// unit has a UE (then the good data is written back). With no redundancy
// to reconstruct it the page is reported lost, never returned.
func (a *Array) ReadPage(pfn uint64, dst *pages.Page) error {
	if err := a.check(pfn); err != nil {
		return err
	}
	if a.lost[pfn] {
		return fmt.Errorf("%w: pfn %#x", ErrDataLoss, pfn)
	}
	d, s := Locate(pfn)
	if a.avail(d, s) {
		return a.carts[d].ReadPage(s, dst)
	}
	if !a.xorOthers(dst, s, d, -1, nil) {
		a.lose(pfn, d, s)
		return fmt.Errorf("%w: pfn %#x", ErrDataLoss, pfn)
	}
	if a.poison[d][s] && a.state[d] != Failed {
		a.store(d, s, dst) // correct in place
		a.emit(Event{Kind: CorrectedByParity, Cartridge: d, Stripe: s, PFN: pfn})
	}
	return nil
}

func (a *Array) lose(pfn uint64, c int, s uint64) {
	if !a.lost[pfn] {
		a.lost[pfn] = true
		a.emit(Event{Kind: DataLoss, Cartridge: c, Stripe: s, PFN: pfn})
	}
}

// InjectUE poisons cartridge c's unit of stripe s.
func (a *Array) InjectUE(c int, stripe uint64) error {
	if stripe >= a.cart/Unit {
		return fmt.Errorf("%w: stripe %d", ErrOutOfRange, stripe)
	}
	a.poison[c][stripe] = true
	return nil
}

// Fail takes cartridge c out (failure or surprise removal). A second
// cartridge lost while another is failed or rebuilding fails the array.
func (a *Array) Fail(c int) {
	switch a.state[c] {
	case Failed:
		return
	case Rebuilding: // the replacement itself failed: back to degraded
		a.state[c] = Failed
		a.rebuilding, a.todo = -1, nil
		a.emit(Event{Kind: CartridgeFailed, Cartridge: c})
		a.emit(Event{Kind: RebuildAborted, Cartridge: c})
		return
	}
	others := 0
	for o := range a.state {
		if o != c && a.state[o] != Online {
			others++
		}
	}
	a.state[c] = Failed
	a.emit(Event{Kind: CartridgeFailed, Cartridge: c})
	if others > 0 {
		if !a.fatal {
			a.fatal = true
			a.emit(Event{Kind: ArrayFailed, Cartridge: c})
		}
		return
	}
	a.emit(Event{Kind: RedundancyDegraded, Cartridge: c})
}

// CartridgeCapacity is the capacity of the board in slot c.
func (a *Array) CartridgeCapacity(c int) uint64 { return a.caps[c] }

// Replace inserts a replacement of capacity bytes into failed (or
// removed) cartridge c's slot and starts its rebuild. One cartridge at a
// time, same slot; refused once the array failed. The replacement must
// match the array's cartridges, or be an upgrade: larger, and the same
// size as any other board already upgraded. The added capacity becomes
// usable once all five boards carry it and the last one is rebuilt.
func (a *Array) Replace(c int, capacity uint64) error {
	switch {
	case a.fatal:
		return fmt.Errorf("%w: %w", ErrRefused, ErrArrayFailed)
	case a.state[c] != Failed:
		return fmt.Errorf("%w: cartridge %d is %v, not Failed", ErrRefused, c, a.state[c])
	case a.rebuilding >= 0:
		return fmt.Errorf("%w: cartridge %d is rebuilding; one at a time", ErrRefused, a.rebuilding)
	case capacity < a.cart || capacity%Unit != 0:
		return fmt.Errorf("%w: replacement of %d bytes for a cartridge of %d", ErrRefused, capacity, a.cart)
	}
	for o, oc := range a.caps {
		if o != c && capacity > a.cart && oc != a.cart && oc != capacity {
			return fmt.Errorf("%w: upgrade to %d bytes while cartridge %d was upgraded to %d; upgrades must match", ErrRefused, capacity, o, oc)
		}
	}
	var lists [][]uint64
	for o, st := range a.carts {
		if o != c {
			lists = append(lists, st.PFNs())
		}
	}
	a.todo = union(lists)
	a.carts[c].Reset() // the replacement reuses the old board's backing memory
	a.poison[c] = map[uint64]bool{}
	a.state[c] = Rebuilding
	a.caps[c] = capacity
	a.rebuilding, a.next = c, 0
	a.emit(Event{Kind: RebuildStarted, Cartridge: c, Bytes: capacity})
	return nil
}

// Rebuild reconstructs up to n stripes (n <= 0: all remaining) onto the
// rebuilding cartridge and reports whether the rebuild finished. A UE on
// a source unit loses the units it was needed for (reported).
func (a *Array) Rebuild(n int) (bool, error) {
	c := a.rebuilding
	if c < 0 {
		return false, ErrNoRebuild
	}
	if n <= 0 || n > len(a.todo) {
		n = len(a.todo)
	}
	for todo := a.todo[:n]; len(todo) > 0; {
		if k := a.rebuildRun(c, todo); k > 0 {
			a.next = todo[k-1] + 1
			todo = todo[k:]
			continue
		}
		s := todo[0]
		todo = todo[1:]
		if a.xorOthers(&a.buf, s, c, -1, nil) {
			_ = a.carts[c].WritePage(s, &a.buf)
		} else {
			// A UE on a source unit: neither it nor the unit being
			// rebuilt can be recovered.
			for o := range a.carts {
				if o == c || a.poison[o][s] {
					if pfn, parity := Logical(o, s); !parity {
						a.lose(pfn, o, s)
					}
				}
			}
		}
		a.next = s + 1
	}
	a.todo = a.todo[n:]
	if len(a.todo) > 0 {
		return false, nil
	}
	a.todo, a.rebuilding = nil, -1
	a.state[c] = Online
	a.emit(Event{Kind: RebuildComplete, Cartridge: c, Stripes: a.carts[c].Len()})
	a.emit(Event{Kind: FullyRedundant})
	if smallest := slices.Min(a.caps[:]); smallest > a.cart {
		a.cart = smallest
		a.emit(Event{Kind: CapacityExpanded, Bytes: a.Size()})
	}
	return true, nil
}

// rebuildRun reconstructs the leading stripes of todo onto cartridge c
// for as long as every source unit is readable and each cartridge holds
// its units contiguously, XORing whole runs straight into the
// replacement's memory, and returns how many it did. It returns 0 when the
// first stripe needs the per-stripe path: a source not Online, a poisoned
// or never-written source unit.
func (a *Array) rebuildRun(c int, todo []uint64) int {
	k := pages.Consecutive(todo)
	var src [DataUnits][]pages.Page
	j := 0
	poisoned := false
	for o := range a.carts {
		if o == c {
			continue
		}
		if a.state[o] != Online {
			return 0
		}
		poisoned = poisoned || len(a.poison[o]) > 0
		src[j] = a.carts[o].Span(todo[0], k)
		k = len(src[j])
		if k == 0 {
			return 0
		}
		j++
	}
	if poisoned {
		for i := range k {
			if !a.readable(c, todo[i]) {
				k = i
				break
			}
		}
		if k == 0 {
			return 0
		}
	}
	dst := a.carts[c].Claim(todo[0], k)
	// Page by page the four units stay in cache between the passes;
	// the first pass overwrites the claimed (recycled) page entirely.
	for i := range dst {
		d := dst[i][:]
		subtle.XORBytes(d, src[0][i][:], src[1][i][:])
		subtle.XORBytes(d, d, src[2][i][:])
		subtle.XORBytes(d, d, src[3][i][:])
	}
	return len(dst)
}

// readable reports whether every unit of stripe s but cartridge c's is
// free of poison.
func (a *Array) readable(c int, s uint64) bool {
	for o := range a.carts {
		if o != c && a.poison[o][s] {
			return false
		}
	}
	return true
}

// union merges ascending lists into one ascending list without
// duplicates (a k-way merge: sorting a set of every stripe would cost more
// than a rebuild of it).
func union(lists [][]uint64) []uint64 {
	n := 0
	for _, l := range lists {
		n = max(n, len(l))
	}
	out := make([]uint64, 0, n)
	for {
		best, found := uint64(0), false
		for _, l := range lists {
			if len(l) > 0 && (!found || l[0] < best) {
				best, found = l[0], true
			}
		}
		if !found {
			return out
		}
		out = append(out, best)
		for i, l := range lists {
			if len(l) > 0 && l[0] == best {
				lists[i] = l[1:]
			}
		}
	}
}
