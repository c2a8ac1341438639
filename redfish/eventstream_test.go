package redfish

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// streamed is one event as a client saw it.
type streamed struct {
	id  int
	msg string
}

// TestEventStreamHotAddAndRASFault is the end-to-end event test:
// a push subscriber that answers 500 twice and an SSE client both see a
// scripted hot-add (attention button, isolate, seat, SMC, firmware and OS)
// and an uncorrectable error, as the same EventIds and MessageIds in the
// same order without gaps or duplicates; an SSE reconnect with
// Last-Event-ID in the middle replays exactly the rest.
func TestEventStreamHotAddAndRASFault(t *testing.T) {
	p := newPlatform(t)
	h := newHandlerCfg(t, p, fastRetries())
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close) // after the streams' cleanups
	c := newCollector(t, func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return 0
	})
	// Subscribe before opening the stream: the subscription's own
	// ResourceCreated goes to the stream but not to it.
	subscribe(t, h, `{"Destination":"`+c.srv.URL+`/events","Protocol":"Redfish"}`)
	stream, _ := openSSE(t, srv.URL+pathSSE, "")

	const slot, faulty = "CPU0_DIMM_A2", "CPU0_DIMM_A1"
	insert(t, p, slot, 64)
	inject(t, p, faulty, 0, false, 1)
	last := resEventID("ResourceStatusChangedCritical")
	waitFor(t, "the RAS fault pushed", func() bool {
		for _, w := range pushed(c) {
			if w == (eventWant{last, memoryPath(faulty)}) {
				return true
			}
		}
		return false
	})

	var push []streamed
	for _, r := range c.records() {
		id, err := strconv.Atoi(r["EventId"].(string))
		if err != nil {
			t.Fatalf("EventId %v: %v", r["EventId"], err)
		}
		push = append(push, streamed{id, r["MessageId"].(string)})
	}
	contiguous(t, "push", push)
	c.mu.Lock()
	attempts, delivered := c.attempts, len(c.events)
	c.mu.Unlock()
	if attempts != delivered+2 {
		t.Errorf("%d attempts for %d deliveries, want the two 500s retried", attempts, delivered)
	}
	for _, want := range []string{oemID("HotPlugAttentionPressed"), oemID("SlotReadyForInstallation"), oemID("MemoryHotAdded"),
		resEventID("ResourceStateChanged"), platformID("MemoryUncorrectableError"), last} {
		if !hasID(push, want) {
			t.Errorf("push stream lacks %s: %v", want, push)
		}
	}

	sse := readUntil(t, stream, push[len(push)-1].id)
	contiguous(t, "SSE", sse)
	if !equalStreams(sse, push) {
		t.Fatalf("SSE and push differ:\nSSE  %v\npush %v", sse, push)
	}

	mid := push[len(push)/2]
	resumed, _ := openSSE(t, srv.URL+pathSSE, strconv.Itoa(mid.id))
	rest := readUntil(t, resumed, push[len(push)-1].id)
	if !equalStreams(rest, push[len(push)/2+1:]) {
		t.Fatalf("resumed after %d:\ngot  %v\nwant %v", mid.id, rest, push[len(push)/2+1:])
	}
	select {
	case ev, ok := <-resumed:
		if ok {
			t.Errorf("resumed stream sent %s beyond the replay", ev.id)
		}
	case <-time.After(100 * time.Millisecond):
	}
}

// readUntil reads a stream's events up to and including EventId last.
func readUntil(t *testing.T, c <-chan sseEvent, last int) []streamed {
	t.Helper()
	var out []streamed
	for {
		ev := nextSSE(t, c)
		id, err := strconv.Atoi(ev.id)
		if err != nil {
			t.Fatalf("SSE id %q: %v", ev.id, err)
		}
		if got := path(t, ev.data, "Events", 0, "EventId"); got != ev.id {
			t.Errorf("SSE id %s carries EventId %v", ev.id, got)
		}
		out = append(out, streamed{id, path(t, ev.data, "Events", 0, "MessageId").(string)})
		if id >= last {
			return out
		}
	}
}

// contiguous fails unless the ids rise by one at each step.
func contiguous(t *testing.T, what string, s []streamed) {
	t.Helper()
	if len(s) == 0 {
		t.Fatalf("%s: no events", what)
	}
	for i := 1; i < len(s); i++ {
		if s[i].id != s[i-1].id+1 {
			t.Errorf("%s: EventId %d after %d (gap, duplicate or reorder)", what, s[i].id, s[i-1].id)
		}
	}
}

func equalStreams(a, b []streamed) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func hasID(s []streamed, id string) bool {
	for _, e := range s {
		if e.msg == id {
			return true
		}
	}
	return false
}
