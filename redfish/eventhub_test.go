package redfish

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

func publishN(h *eventHub, n int) {
	for i := range n {
		h.publish(time.Unix(int64(i), 0), eventSpec{id: resourceEventRegistry + ".ResourceStateChanged", args: []string{"x", fmt.Sprint(i)}})
	}
}

// TestEventHubOverflowNoGap plays an SSE client against the hub: it reads
// one event per two published, so its queue overflows while slots keep
// freeing. The hub must not queue an event after one it dropped; the
// client, on overflow, drains its queue, reconnects with the last EventId
// it got and is replayed the rest: every EventId exactly once, in order.
func TestEventHubOverflowNoGap(t *testing.T) {
	const total = 200
	h := newEventHub(defaultEventBuffer, nil)
	var got []uint64
	deliver := func(id uint64) {
		if want := uint64(len(got) + 1); id != want {
			t.Fatalf("got EventId %d after %d: the client skipped or repeated EventIds", id, want-1)
		}
		got = append(got, id)
	}
	l, replay := h.listen("client", 4, 0)
	if len(replay) != 0 {
		t.Fatalf("replay before any event: %v", replay)
	}
	reconnects := 0
	for published := 0; published < total; {
		publishN(h, 2)
		published += 2
		select {
		case <-l.overflow:
			// As serveSSE: deliver what is queued, then end the stream.
			for drained := false; !drained; {
				select {
				case ev := <-l.c:
					deliver(ev.ID)
				default:
					drained = true
				}
			}
			h.unlisten(l)
			reconnects++
			l, replay = h.listen("client", 4, got[len(got)-1])
			for _, ev := range replay {
				deliver(ev.ID)
			}
		case ev := <-l.c:
			deliver(ev.ID)
		}
	}
	// The end of the storm: what is queued, then (as a client whose
	// stream ended would) what a reconnect replays.
	for drained := false; !drained; {
		select {
		case ev := <-l.c:
			deliver(ev.ID)
		default:
			drained = true
		}
	}
	select {
	case <-l.overflow:
		h.unlisten(l)
		_, replay = h.listen("client", 4, got[len(got)-1])
		for _, ev := range replay {
			deliver(ev.ID)
		}
	default:
	}
	if len(got) != total {
		t.Errorf("delivered %d of %d", len(got), total)
	}
	if reconnects == 0 {
		t.Error("the queue never overflowed: the test tests nothing")
	}
}

// The ring at and around its wrap: replay, the Event log and single
// entries match what the kept window (the last cap EventIds) says, for
// every Last-Event-ID and every ClearLog point.
func TestEventHubRingWrap(t *testing.T) {
	const capacity = 3
	for published := 0; published <= 3*capacity+1; published++ {
		for clearAfter := 0; clearAfter <= published; clearAfter++ {
			h := newEventHub(capacity, nil)
			publishN(h, clearAfter)
			h.clearLog()
			publishN(h, published-clearAfter)
			first := uint64(max(published-capacity, 0) + 1) // oldest kept
			last := uint64(published)
			ids := func(evs []rfEvent) []uint64 {
				var out []uint64
				for _, ev := range evs {
					out = append(out, ev.ID)
				}
				return out
			}
			span := func(from uint64) []uint64 {
				var out []uint64
				for id := max(from, first); id <= last; id++ {
					out = append(out, id)
				}
				return out
			}
			for after := uint64(0); after <= last+1; after++ {
				l, replay := h.listen("t", 1, after)
				h.unlisten(l)
				if got, want := ids(replay), span(after+1); !slices.Equal(got, want) {
					t.Errorf("%d published: replay after %d = %v, want %v", published, after, got, want)
				}
			}
			if l, replay := h.listen("t", 1, math.MaxUint64); len(replay) != 0 {
				t.Errorf("replay after MaxUint64 = %v", ids(replay))
			} else {
				h.unlisten(l)
			}
			logFrom := uint64(clearAfter + 1)
			if got, want := ids(h.logEvents()), span(logFrom); !slices.Equal(got, want) {
				t.Errorf("%d published, cleared after %d: log = %v, want %v", published, clearAfter, got, want)
			}
			for id := uint64(0); id <= last+1; id++ {
				ev, ok := h.logEvent(id)
				want := id >= first && id >= logFrom && id <= last
				if ok != want || (ok && ev.ID != id) {
					t.Errorf("%d published, cleared after %d: logEvent(%d) = %d, %v", published, clearAfter, id, ev.ID, ok)
				}
			}
			if got, want := h.logOverflow(), published > 0 && first > logFrom; got != want {
				t.Errorf("%d published, cleared after %d: logOverflow %v", published, clearAfter, got)
			}
		}
	}
}
