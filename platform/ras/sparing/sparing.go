// Package sparing is rank sparing on one memory channel: one rank of the
// channel is held back as the spare (capacity reduced by a rank); when a
// rank's correctable errors cross the firmware's threshold, its contents
// are copied to the spare (writes during the copy go to both), the spare
// takes its place in the address decode and the failing rank is mapped
// out and reported for replacement. Sparing does not protect against
// uncorrectable errors: a UE is reported as data loss, and a copy carries
// the poison over.
package sparing

import (
	"errors"
	"fmt"
	"slices"

	"github.com/bmcemu/bmcemu/platform/ras/ecc"
	"github.com/bmcemu/bmcemu/platform/ras/pages"
)

// Usable is the OS-visible capacity of a channel of ranks ranks of
// rankBytes each with one spare: one rank less.
func Usable(ranks int, rankBytes uint64) uint64 {
	if ranks < 2 {
		return 0
	}
	return uint64(ranks-1) * rankBytes
}

// Rank names a physical rank: a module (slot) and its rank number.
type Rank struct {
	Module string
	Rank   int
}

// RankState is a physical rank's role.
type RankState uint8

// Rank states.
const (
	Active    RankState = iota // decodes part of the channel
	Spare                      // reserved, unused
	Copying                    // spare receiving a failing rank's contents
	MappedOut                  // failed over to the spare; replace the module
)

func (s RankState) String() string {
	return [...]string{"Active", "Spare", "Copying", "MappedOut"}[s]
}

// EventKind names a sparing event.
type EventKind string

// Event kinds.
const (
	SpareCopyStarted  EventKind = "SpareCopyStarted"
	SpareCopyComplete EventKind = "SpareCopyComplete" // Rank mapped out, Spare took over
	ReplaceModule     EventKind = "ReplaceModule"     // Rank's module should be replaced
	SpareUnavailable  EventKind = "SpareUnavailable"  // a threshold trip with no spare left
	SpareRestored     EventKind = "SpareRestored"     // a replaced rank is the spare again
	Uncorrectable     EventKind = "UncorrectableError"
)

// Event is a plain result for the platform to map.
type Event struct {
	Kind  EventKind
	Rank  Rank // the failing / mapped-out / replaced rank
	Spare Rank // SpareCopyStarted, SpareCopyComplete
	PFN   uint64
	Pages int // SpareCopyComplete: pages copied
}

// Errors.
var (
	ErrNoSpare    = errors.New("sparing: no spare rank available")
	ErrBusy       = errors.New("sparing: a spare copy is running on the channel")
	ErrRefused    = errors.New("sparing: operation refused")
	ErrOutOfRange = errors.New("sparing: page outside the channel")
	ErrDataLoss   = errors.New("sparing: uncorrectable error (no redundancy)")
)

// Channel is one channel's ranks. Addresses are channel-relative page
// frames: logical rank i decodes pages [i*rankPages, (i+1)*rankPages).
// Not safe for concurrent use.
type Channel struct {
	ranks     []Rank
	rankPages uint64
	stores    []*pages.Store
	state     []RankState
	poison    []map[uint64]bool
	logical   []int // logical rank -> physical rank
	copyFrom  int   // physical rank being copied, -1 when idle
	copyTo    int
	todo      []uint64
	events    []Event
}

// New builds a channel of ranks of rankBytes each; physical rank spare is
// held back as the spare.
func New(ranks []Rank, rankBytes uint64, spare int) (*Channel, error) {
	if len(ranks) < 2 || rankBytes == 0 || rankBytes%pages.PageSize != 0 || spare < 0 || spare >= len(ranks) {
		return nil, fmt.Errorf("%w: %d ranks of %d bytes, spare %d", ErrRefused, len(ranks), rankBytes, spare)
	}
	c := &Channel{ranks: slices.Clone(ranks), rankPages: rankBytes / pages.PageSize, copyFrom: -1, copyTo: -1}
	for i := range ranks {
		c.stores = append(c.stores, pages.New())
		c.poison = append(c.poison, map[uint64]bool{})
		if i == spare {
			c.state = append(c.state, Spare)
		} else {
			c.state = append(c.state, Active)
			c.logical = append(c.logical, i)
		}
	}
	return c, nil
}

// Size is the usable capacity in bytes.
func (c *Channel) Size() uint64 { return uint64(len(c.logical)) * c.rankPages * pages.PageSize }

// State is physical rank i's state.
func (c *Channel) State(i int) RankState { return c.state[i] }

// Ranks lists the physical ranks.
func (c *Channel) Ranks() []Rank { return slices.Clone(c.ranks) }

// Store exposes physical rank i's contents (tests, inspection).
func (c *Channel) Store(i int) *pages.Store { return c.stores[i] }

// Busy reports whether a spare copy is running (no hot-plug on the
// channel meanwhile).
func (c *Channel) Busy() bool { return c.copyFrom >= 0 }

// CanHotPlug refuses hot-plug on the channel while a spare copy runs.
func (c *Channel) CanHotPlug() error {
	if c.Busy() {
		return fmt.Errorf("%w: copying %v to %v", ErrBusy, c.ranks[c.copyFrom], c.ranks[c.copyTo])
	}
	return nil
}

// Decode maps a channel page frame to its logical rank and the page frame
// within the rank.
func (c *Channel) Decode(pfn uint64) (logical int, rankPFN uint64, err error) {
	if pfn >= uint64(len(c.logical))*c.rankPages {
		return 0, 0, fmt.Errorf("%w: pfn %#x", ErrOutOfRange, pfn)
	}
	return int(pfn / c.rankPages), pfn % c.rankPages, nil
}

// Physical is the physical rank serving logical rank l.
func (c *Channel) Physical(l int) int { return c.logical[l] }

// Drain returns and clears the pending events.
func (c *Channel) Drain() []Event {
	out := c.events
	c.events = nil
	return out
}

func (c *Channel) emit(e Event) { c.events = append(c.events, e) }

// WritePage writes a page; during a copy, writes to the rank being copied
// go to the spare too.
func (c *Channel) WritePage(pfn uint64, src *pages.Page) error {
	l, off, err := c.Decode(pfn)
	if err != nil {
		return err
	}
	p := c.logical[l]
	_ = c.stores[p].WritePage(off, src)
	delete(c.poison[p], off)
	if p == c.copyFrom {
		_ = c.stores[c.copyTo].WritePage(off, src)
		delete(c.poison[c.copyTo], off)
	}
	return nil
}

// ReadPage reads a page; a UE there is reported, never returned as data.
func (c *Channel) ReadPage(pfn uint64, dst *pages.Page) error {
	l, off, err := c.Decode(pfn)
	if err != nil {
		return err
	}
	p := c.logical[l]
	if c.poison[p][off] {
		c.emit(Event{Kind: Uncorrectable, Rank: c.ranks[p], PFN: pfn})
		return fmt.Errorf("%w: pfn %#x on %v", ErrDataLoss, pfn, c.ranks[p])
	}
	return c.stores[p].ReadPage(off, dst)
}

// InjectUE poisons page rankPFN of physical rank i.
func (c *Channel) InjectUE(i int, rankPFN uint64) error {
	if rankPFN >= c.rankPages {
		return fmt.Errorf("%w: rank pfn %#x", ErrOutOfRange, rankPFN)
	}
	c.poison[i][rankPFN] = true
	return nil
}

func (c *Channel) find(r Rank) int { return slices.Index(c.ranks, r) }

// HandleECC acts on an ECC model event: a CE threshold trip on an active
// rank of this channel starts a spare copy. Other events are ignored.
// It returns whether the event concerned this channel.
func (c *Channel) HandleECC(e ecc.Event) bool {
	if e.Kind != ecc.ThresholdExceeded {
		return false
	}
	i := c.find(Rank{e.Module, e.Rank})
	if i < 0 {
		return false
	}
	// With the one spare taken (or being filled for another rank) a trip
	// cannot be acted on: report it. A repeat trip of the rank being
	// copied, or of one already mapped out, changes nothing.
	if err := c.StartSpare(i); errors.Is(err, ErrNoSpare) || errors.Is(err, ErrBusy) && i != c.copyFrom {
		c.emit(Event{Kind: SpareUnavailable, Rank: c.ranks[i]})
	}
	return true
}

// StartSpare starts copying active physical rank i to the spare.
func (c *Channel) StartSpare(i int) error {
	switch {
	case c.Busy():
		return c.CanHotPlug()
	case c.state[i] != Active:
		return fmt.Errorf("%w: %v is %v", ErrRefused, c.ranks[i], c.state[i])
	}
	spare := slices.Index(c.state, Spare)
	if spare < 0 {
		return fmt.Errorf("%w: for %v", ErrNoSpare, c.ranks[i])
	}
	c.copyFrom, c.copyTo = i, spare
	c.state[spare] = Copying
	c.stores[spare].Reset()
	c.poison[spare] = map[uint64]bool{}
	c.todo = c.stores[i].PFNs()
	c.emit(Event{Kind: SpareCopyStarted, Rank: c.ranks[i], Spare: c.ranks[spare]})
	return nil
}

// Copy copies up to n pages (n <= 0: all remaining) of the running spare
// copy and reports whether it finished: then the spare decodes the failing
// rank's addresses and the failing rank is mapped out for replacement.
func (c *Channel) Copy(n int) (bool, error) {
	if !c.Busy() {
		return false, fmt.Errorf("%w: no spare copy running", ErrRefused)
	}
	if n <= 0 || n > len(c.todo) {
		n = len(c.todo)
	}
	from, to := c.stores[c.copyFrom], c.stores[c.copyTo]
	to.CopyRuns(from, c.todo[:n])
	if len(c.poison[c.copyFrom]) > 0 {
		for _, off := range c.todo[:n] {
			if c.poison[c.copyFrom][off] {
				c.poison[c.copyTo][off] = true // poison travels with the data
			}
		}
	}
	c.todo = c.todo[n:]
	if len(c.todo) > 0 {
		return false, nil
	}
	src, dst := c.copyFrom, c.copyTo
	c.logical[slices.Index(c.logical, src)] = dst
	c.state[src], c.state[dst] = MappedOut, Active
	c.copyFrom, c.copyTo, c.todo = -1, -1, nil
	c.emit(Event{Kind: SpareCopyComplete, Rank: c.ranks[src], Spare: c.ranks[dst], Pages: to.Len()})
	c.emit(Event{Kind: ReplaceModule, Rank: c.ranks[src]})
	return true, nil
}

// Replaced records that mapped-out physical rank i's module was replaced
// (at a service boot; online sparing allows no hot-replace): it becomes
// the channel's spare.
func (c *Channel) Replaced(i int) error {
	if c.state[i] != MappedOut {
		return fmt.Errorf("%w: %v is %v, not MappedOut", ErrRefused, c.ranks[i], c.state[i])
	}
	c.stores[i].Reset()
	c.poison[i] = map[uint64]bool{}
	c.state[i] = Spare
	c.emit(Event{Kind: SpareRestored, Rank: c.ranks[i]})
	return nil
}
