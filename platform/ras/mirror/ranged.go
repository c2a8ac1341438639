package mirror

import (
	"fmt"

	"github.com/bmcemu/bmcemu/platform/ras/pages"
)

// RangeUsable is the OS-visible capacity of raw bytes with an
// address-range mirror whose mirrored (usable) part is mirrored bytes:
// the mirrored part costs twice its size.
func RangeUsable(raw, mirrored uint64) uint64 {
	if 2*mirrored > raw {
		return 0
	}
	return raw - mirrored
}

// Ranged is address-range (partial) mirroring: page frames
// [Base, Base+Mirror.Size()) are mirrored (the kernel's "mirrored memory",
// EFI_MEMORY_MORE_RELIABLE), the rest of [0, Size) is plain ECC memory
// where a UE is data loss. With an empty mirrored range it is plain ECC.
type Ranged struct {
	mirror *Mirror // nil when nothing is mirrored
	base   uint64  // first mirrored pfn
	plain  *pages.Store
	poison map[uint64]bool
	lost   map[uint64]bool
	size   uint64
	events []Event
}

// NewRanged builds a ranged mirror of size usable bytes whose mirrored
// part is [base, base+mirrored) (byte addresses, page-aligned).
func NewRanged(size, base, mirrored uint64) (*Ranged, error) {
	if size%pages.PageSize != 0 || base%pages.PageSize != 0 || mirrored%pages.PageSize != 0 || base+mirrored > size || base+mirrored < base {
		return nil, fmt.Errorf("%w: mirrored [%#x,+%#x) in %#x bytes", ErrOutOfRange, base, mirrored, size)
	}
	r := &Ranged{base: base / pages.PageSize, plain: pages.New(), poison: map[uint64]bool{}, lost: map[uint64]bool{}, size: size}
	if mirrored > 0 {
		m, err := New(mirrored, mirrored)
		if err != nil {
			return nil, err
		}
		r.mirror = m
	}
	return r, nil
}

// Size is the usable capacity in bytes.
func (r *Ranged) Size() uint64 { return r.size }

// Mirror is the mirrored part (nil when none), for failover, replace and
// re-silver; its page frames are relative to the range's base.
func (r *Ranged) Mirror() *Mirror { return r.mirror }

// Mirrored reports whether pfn is in the mirrored range.
func (r *Ranged) Mirrored(pfn uint64) bool {
	return r.mirror != nil && pfn >= r.base && pfn-r.base < r.mirror.Size()/pages.PageSize
}

func (r *Ranged) check(pfn uint64) error {
	if pfn >= r.size/pages.PageSize {
		return fmt.Errorf("%w: pfn %#x", ErrOutOfRange, pfn)
	}
	return nil
}

// WritePage writes one page.
func (r *Ranged) WritePage(pfn uint64, src *pages.Page) error {
	if err := r.check(pfn); err != nil {
		return err
	}
	if r.Mirrored(pfn) {
		return r.mirror.WritePage(pfn-r.base, src)
	}
	delete(r.poison, pfn)
	delete(r.lost, pfn)
	return r.plain.WritePage(pfn, src)
}

// ReadPage reads one page: mirrored pages fail over, a UE on a plain page
// is reported lost.
func (r *Ranged) ReadPage(pfn uint64, dst *pages.Page) error {
	if err := r.check(pfn); err != nil {
		return err
	}
	if r.Mirrored(pfn) {
		return r.mirror.ReadPage(pfn-r.base, dst)
	}
	if r.poison[pfn] {
		if !r.lost[pfn] {
			r.lost[pfn] = true
			r.events = append(r.events, Event{Kind: UncorrectableError, Side: 0, PFN: pfn}, Event{Kind: DataLoss, Side: -1, PFN: pfn})
		}
		return fmt.Errorf("%w: pfn %#x (not mirrored)", ErrDataLoss, pfn)
	}
	return r.plain.ReadPage(pfn, dst)
}

// InjectUE poisons pfn; in the mirrored range, on side side.
func (r *Ranged) InjectUE(side int, pfn uint64) error {
	if err := r.check(pfn); err != nil {
		return err
	}
	if r.Mirrored(pfn) {
		return r.mirror.InjectUE(side, pfn-r.base)
	}
	r.poison[pfn] = true
	return nil
}

// Drain returns and clears the pending events, the mirrored part's with
// page frames made absolute.
func (r *Ranged) Drain() []Event {
	out := r.events
	r.events = nil
	if r.mirror != nil {
		for _, e := range r.mirror.Drain() {
			if e.Kind == UncorrectableError || e.Kind == DataLoss || e.Kind == Failover || e.Kind == LostRedundancy {
				e.PFN += r.base
			}
			out = append(out, e)
		}
	}
	return out
}
