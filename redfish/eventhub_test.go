package redfish

import (
	"fmt"
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
