package platform

import (
	"context"
	"sync"
	"time"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/ringbuf"
)

// eventRing keeps the most recent records for pollers (the control API's
// long-poll). It is bounded: a poller that falls further behind than its
// size is told so and skips ahead.
type eventRing struct {
	mu      sync.Mutex
	recs    *ringbuf.Ring[events.Record] // oldest first, at most size
	changed chan struct{}                // closed and replaced on every add
}

func newEventRing(size int) *eventRing {
	if size <= 0 {
		size = 4096
	}
	return &eventRing{recs: ringbuf.New[events.Record](size), changed: make(chan struct{})}
}

func (r *eventRing) add(rec events.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs.Push(rec)
	close(r.changed)
	r.changed = make(chan struct{})
}

// since returns the records after seq, whether some were lost to the
// bound, the last sequence number, and a channel closed on the next add.
func (r *eventRing) since(seq uint64, max int) (out []events.Record, truncated bool, last uint64, changed <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed = r.changed
	n := r.recs.Len()
	if n == 0 {
		return nil, false, 0, changed
	}
	last = r.recs.At(n - 1).Seq
	first := r.recs.At(0).Seq
	i := 0
	if seq+1 < first {
		truncated = true
	} else if seq+1-first >= uint64(n) {
		return nil, false, last, changed
	} else {
		i = int(seq + 1 - first)
	}
	j := n
	if max > 0 && j-i > max {
		j = i + max
	}
	return r.recs.Slice(i, j), truncated, last, changed
}

// EventPage is what EventsSince returns.
type EventPage struct {
	Records []events.Record
	// Truncated: records after the requested sequence number were dropped
	// from the bounded ring before they could be read.
	Truncated bool
	// LastSeq is the newest record's sequence number (0: none yet). Poll
	// again with since = the last returned record's Seq.
	LastSeq uint64
}

// EventsSince returns up to max recent records with Seq > since, waiting
// up to wait (in wall-clock time) for the first one if there is none yet.
// The platform keeps a bounded ring of recent records for this.
func (p *Platform) EventsSince(ctx context.Context, since uint64, max int, wait time.Duration) EventPage {
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	for {
		recs, trunc, last, changed := p.ring.since(since, max)
		if len(recs) > 0 || trunc || wait <= 0 {
			return EventPage{Records: recs, Truncated: trunc, LastSeq: last}
		}
		select {
		case <-changed:
		case <-timeout:
			return EventPage{LastSeq: last}
		case <-ctx.Done():
			return EventPage{LastSeq: last}
		}
	}
}

// LastEventSeq is the sequence number of the newest record.
func (p *Platform) LastEventSeq() uint64 { return p.bus.Seq() }
