// Package events is the platform's one ordered stream of typed facts. The
// platform publishes structs; each surface (IPMI SEL, Redfish events, the
// kernel log) formats them at its own edge.
package events

import (
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/bmcemu/bmcemu/platform/ratelog"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// Event is a fact about the simulated server. Kind names it for logs and
// filters without a type switch.
type Event interface {
	Kind() string
}

// ModuleInserted: a module was seated in Slot and its SPD read.
type ModuleInserted struct {
	Slot   string     `json:"slot"`
	Module spd.Module `json:"module"`
}

// ModuleRemoved: the module that sat in Slot is gone.
type ModuleRemoved struct {
	Slot   string     `json:"slot"`
	Module spd.Module `json:"module"`
}

// PowerChanged: the host's main power turned on or off.
type PowerChanged struct {
	On bool `json:"on"`
}

// LocationIndicatorChanged: a slot's identify LED was lit or darkened.
type LocationIndicatorChanged struct {
	Slot string `json:"slot"`
	On   bool   `json:"on"`
}

// ChassisIdentifyChanged: the chassis identify LED changed; Seconds is the
// interval after which a timed identify goes dark (0: until changed).
type ChassisIdentifyChanged struct {
	State   string `json:"state"`
	Seconds int    `json:"seconds,omitempty"`
}

func (ChassisIdentifyChanged) Kind() string { return "ChassisIdentifyChanged" }

// BootOverrideChanged: the boot override the host firmware reads at its
// next boot changed. Consumed: the host booted and used up a Once override
// (Enabled is then Disabled); otherwise a management client set it.
type BootOverrideChanged struct {
	Target   string `json:"target"`
	Enabled  string `json:"enabled"`
	Mode     string `json:"mode"`
	Consumed bool   `json:"consumed,omitempty"`
}

func (BootOverrideChanged) Kind() string      { return "BootOverrideChanged" }
func (LocationIndicatorChanged) Kind() string { return "LocationIndicatorChanged" }
func (ModuleInserted) Kind() string           { return "ModuleInserted" }
func (ModuleRemoved) Kind() string            { return "ModuleRemoved" }
func (PowerChanged) Kind() string             { return "PowerChanged" }

// Record is an event with its place in the stream. Seq starts at 1 and has no
// gaps, so a subscriber can tell exactly what it missed.
type Record struct {
	Seq   uint64    `json:"seq"`
	Time  time.Time `json:"time"`
	Event Event     `json:"event"`
}

// Bus fans records out to subscribers. Publishing never blocks on a slow
// subscriber: each has a bounded queue, and overflow is counted and logged
// rather than stalling the simulated hardware.
type Bus struct {
	mu       sync.Mutex
	seq      uint64
	subs     map[*Subscription]struct{}
	handlers map[*Handler]struct{}
	logger   *slog.Logger
	// dropLog holds the drop warnings to one line per consumer per
	// second, with the count; the drops of a storm's last second are
	// logged when that second ends.
	dropLog *ratelog.Limiter[dropKey]
}

// dropKey names a consumer for the drop log.
type dropKey struct {
	handler bool // a Handler's backlog, not a Subscription's queue
	name    string
}

const (
	msgSubscriberDrop = "event subscriber queue full; records dropped"
	msgHandlerDrop    = "event handler backlog full; records dropped"
)

// dropsHeldBack logs the drops the rate limit held back in an interval
// that no further drop ended.
func (b *Bus) dropsHeldBack(k dropKey, n uint64) {
	msg := msgSubscriberDrop
	if k.handler {
		msg = msgHandlerDrop
	}
	b.logger.Warn(msg, "subscriber", k.name, "since_last_line", n)
}

// NewBus returns an empty bus; logger may be nil.
func NewBus(logger *slog.Logger) *Bus {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b := &Bus{subs: map[*Subscription]struct{}{}, handlers: map[*Handler]struct{}{}, logger: logger}
	b.dropLog = ratelog.NewFlushing(time.Second, nil, b.dropsHeldBack)
	return b
}

// Subscription receives records on C in publication order.
type Subscription struct {
	C       <-chan Record
	c       chan Record
	bus     *Bus
	name    string
	dropped uint64
	closed  bool
}

// Subscribe registers a subscriber with a queue of depth records.
func (b *Bus) Subscribe(name string, depth int) *Subscription {
	if depth < 1 {
		depth = 1
	}
	c := make(chan Record, depth)
	s := &Subscription{C: c, c: c, bus: b, name: name}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Dropped reports how many records overflowed this subscriber's queue.
func (s *Subscription) Dropped() uint64 {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	return s.dropped
}

// Close unsubscribes and closes C.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	delete(s.bus.subs, s)
	close(s.c)
}

// Publish stamps e with the next sequence number and delivers it. Holding the
// lock across delivery keeps every subscriber's view in one global order.
func (b *Bus) Publish(at time.Time, e Event) Record {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	r := Record{Seq: b.seq, Time: at, Event: e}
	for s := range b.subs {
		select {
		case s.c <- r:
		default:
			s.dropped++
			if n, ok := b.dropLog.Note(dropKey{name: s.name}); ok {
				b.logger.Warn(msgSubscriberDrop,
					"subscriber", s.name, "seq", r.Seq, "kind", e.Kind(), "since_last_line", n, "dropped_total", s.dropped)
			}
		}
	}
	for h := range b.handlers {
		h.offer(r)
	}
	return r
}

// Handler receives records through a function, like a Subscription but
// without a goroutine of its own while it is idle: one runs only while
// records wait, and ends when the backlog is drained. A fleet of thousands
// of mostly quiet servers then pays nothing for each of its consumers.
type Handler struct {
	bus   *Bus
	name  string
	depth int
	fn    func(Record)

	mu      sync.Mutex
	idle    *sync.Cond
	queue   []Record
	running bool
	closed  bool
	dropped uint64
}

// Handle registers fn to be called with every record in publication
// order, one call at a time, on a goroutine that exists only while records
// are waiting. At most depth records wait; further ones are dropped,
// counted and logged, as a Subscription's queue does. fn must not call the
// Handler's Close.
func (b *Bus) Handle(name string, depth int, fn func(Record)) *Handler {
	h := &Handler{bus: b, name: name, depth: max(depth, 1), fn: fn}
	h.idle = sync.NewCond(&h.mu)
	b.mu.Lock()
	b.handlers[h] = struct{}{}
	b.mu.Unlock()
	return h
}

// offer queues r; the bus lock is held, so records arrive in order.
func (h *Handler) offer(r Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	if len(h.queue) >= h.depth {
		h.dropped++
		if n, ok := h.bus.dropLog.Note(dropKey{handler: true, name: h.name}); ok {
			h.bus.logger.Warn(msgHandlerDrop,
				"subscriber", h.name, "seq", r.Seq, "kind", r.Event.Kind(), "since_last_line", n, "dropped_total", h.dropped)
		}
		return
	}
	h.queue = append(h.queue, r)
	if !h.running {
		h.running = true
		go h.drain()
	}
}

func (h *Handler) drain() {
	for {
		h.mu.Lock()
		if len(h.queue) == 0 || h.closed {
			h.queue = nil // the backlog's array goes with the burst
			h.running = false
			h.idle.Broadcast()
			h.mu.Unlock()
			return
		}
		r := h.queue[0]
		h.queue[0] = Record{}
		h.queue = h.queue[1:]
		h.mu.Unlock()
		h.fn(r)
	}
}

// Dropped reports how many records overflowed the backlog.
func (h *Handler) Dropped() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dropped
}

// Close unregisters the handler, drops its backlog and waits for a call of
// fn in progress to return. Safe to call more than once.
func (h *Handler) Close() {
	h.bus.mu.Lock()
	delete(h.bus.handlers, h)
	h.bus.mu.Unlock()
	h.mu.Lock()
	h.closed = true
	for h.running {
		h.idle.Wait()
	}
	h.mu.Unlock()
}

// Wait blocks until the backlog is drained: everything published before
// the call has been handled (tests, and orderly shutdown).
func (h *Handler) Wait() {
	h.mu.Lock()
	for h.running {
		h.idle.Wait()
	}
	h.mu.Unlock()
}

// Seq is the sequence number of the last published record.
func (b *Bus) Seq() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seq
}

// SlotOf names the slot an event is about: by the convention of this
// package, every slot-scoped event has a string field named Slot. It returns
// "" for events about no slot, so consumers need no list of event types and
// new slot events reach them without code changes.
func SlotOf(e Event) string {
	v := reflect.ValueOf(e)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	if f := v.FieldByName("Slot"); f.IsValid() && f.Kind() == reflect.String {
		return f.String()
	}
	return ""
}
