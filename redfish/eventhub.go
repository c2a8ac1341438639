package redfish

import (
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/ringbuf"
)

// EventSource is the platform's ordered event stream; *platform.Platform
// implements it. A Platform that implements it feeds the Event log, SSE and
// push subscriptions.
type EventSource interface {
	Handle(name string, depth int, fn func(events.Record)) *events.Handler
}

// rfEvent is one Redfish event as the service keeps it.
type rfEvent struct {
	ID         uint64
	Time       time.Time
	MessageID  string // full: Prefix.Major.Minor.Errata.Key
	Args       []string
	Severity   string
	Message    string
	Resolution string
	Origin     string // @odata.id, "" for none
}

// listener receives every event published after it joined, through a
// bounded queue; a full queue marks it overflowed instead of blocking, and
// from then on the listener gets nothing more: its queue holds a gap-free
// run of EventIds ending just before the first one it missed.
type listener struct {
	c        chan rfEvent
	name     string
	dropped  uint64
	overflow chan struct{} // closed at the first drop
}

// eventHub numbers events, keeps the last cap of them (the Event log and
// the SSE replay buffer) and fans them out to listeners without ever
// blocking the publisher.
type eventHub struct {
	mu        sync.Mutex
	log       *slog.Logger
	cap       int
	ring      *ringbuf.Ring[rfEvent] // oldest first; EventIds consecutive
	next      uint64                 // next EventId
	logFrom   uint64                 // the Event log shows IDs >= logFrom (ClearLog)
	listeners map[*listener]struct{}
}

func newEventHub(capacity int, log *slog.Logger) *eventHub {
	if capacity < 1 {
		capacity = defaultEventBuffer
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &eventHub{log: log, cap: capacity, ring: ringbuf.New[rfEvent](capacity), next: 1, logFrom: 1, listeners: map[*listener]struct{}{}}
}

// defaultEventBuffer is the replay depth for Last-Event-ID and the Event
// log's size: five times bmcweb's 200.
const defaultEventBuffer = 1000

func (h *eventHub) capacity() int { return h.cap }

// publish stamps and keeps one event and hands it to every listener.
func (h *eventHub) publish(at time.Time, spec eventSpec) rfEvent {
	m, ok := eventMessages[spec.id]
	if !ok {
		m = registryMessage{severity: "OK", text: spec.id, args: len(spec.args)}
		if spec.text != nil {
			m.text = *spec.text
		}
		if spec.severity != "" {
			m.severity = spec.severity
		}
	}
	args := make([]string, m.args)
	copy(args, spec.args)
	h.mu.Lock()
	defer h.mu.Unlock()
	ev := rfEvent{ID: h.next, Time: at.UTC(), MessageID: spec.id, Args: args, Severity: m.severity,
		Message: formatMessage(m.text, args), Resolution: m.resolution, Origin: spec.origin}
	h.next++
	h.ring.Push(ev)
	for l := range h.listeners {
		if l.dropped > 0 {
			// Once one event is lost, nothing after it is queued: the
			// queue then holds only events before the gap, and the
			// consumer that sees overflow resumes from the last one it
			// delivered (SSE: Last-Event-ID) instead of jumping past it.
			l.dropped++
			continue
		}
		select {
		case l.c <- ev:
		default:
			l.dropped++
			close(l.overflow)
			h.log.Warn("redfish: event listener queue full; event dropped", "listener", l.name, "event_id", ev.ID, "dropped_total", l.dropped)
		}
	}
	return ev
}

// listen registers a listener and returns, atomically with it, the kept
// events with ID > after, so nothing falls between replay and live.
func (h *eventHub) listen(name string, depth int, after uint64) (*listener, []rfEvent) {
	l := &listener{c: make(chan rfEvent, depth), name: name, overflow: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.listeners[l] = struct{}{}
	if after == math.MaxUint64 {
		return l, nil
	}
	return l, h.fromLocked(after + 1)
}

// lastIDValue is the EventId of the newest event, 0 if none.
func (h *eventHub) lastIDValue() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.next - 1
}

func (h *eventHub) logEvents() []rfEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fromLocked(h.logFrom)
}

// fromLocked copies the kept events with ID >= id, oldest first (nil if
// none): the ring's EventIds are consecutive, so the first is found by
// subtraction.
func (h *eventHub) fromLocked(id uint64) []rfEvent {
	n := h.ring.Len()
	if n == 0 {
		return nil
	}
	i := 0
	if first := h.ring.At(0).ID; id > first {
		if id-first >= uint64(n) {
			return nil
		}
		i = int(id - first)
	}
	return h.ring.Slice(i, n)
}

func (h *eventHub) logEvent(id uint64) (rfEvent, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id < h.logFrom || h.ring.Len() == 0 || id < h.ring.At(0).ID {
		return rfEvent{}, false
	}
	if id-h.ring.At(0).ID >= uint64(h.ring.Len()) {
		return rfEvent{}, false
	}
	return h.ring.At(int(id - h.ring.At(0).ID)), true
}

// logOverflow reports whether events since the last ClearLog were lost
// to wrapping.
func (h *eventHub) logOverflow() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ring.Len() > 0 && h.ring.At(0).ID > h.logFrom
}

func (h *eventHub) clearLog() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logFrom = h.next
}

// pump turns one platform fact into Redfish events: the Event log, SSE and
// push deliveries. It runs on the platform's event handler, only while
// events wait.
func (s *service) pump(rec events.Record) {
	for _, spec := range translate(rec.Event) {
		ev := s.hub.publish(rec.Time, spec)
		s.subs.dispatch(ev)
	}
	s.observeTasks(rec)
	if d := s.events.Dropped(); d > s.pumpDropped {
		s.log.Warn("redfish: platform events lost before translation", "dropped_total", d)
		s.pumpDropped = d
	}
}

// eventLogEntry renders an event as an Event log entry.
func eventLogEntry(ev rfEvent) logEntry {
	id := strconv.FormatUint(ev.ID, 10)
	le := logEntry{
		odata:       odata{ID: logEntryPath(eventServiceID, id), Type: typeLogEntry},
		ID:          id,
		Name:        "Event Log Entry " + id,
		EntryType:   "Event",
		Created:     ev.Time.Format(time.RFC3339),
		Severity:    ev.Severity,
		Message:     ev.Message,
		MessageID:   ev.MessageID,
		MessageArgs: ev.Args,
	}
	if ev.Origin != "" {
		le.Links = &logEntryLink{OriginOfCondition: link{ID: ev.Origin}}
	}
	return le
}
