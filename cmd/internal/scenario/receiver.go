package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Receiver is the engine's own Redfish event listener: a subscription
// (EventService/Subscriptions, Protocol Redfish) pushes to it, and event
// expectations count what it received.
type Receiver struct {
	srv  *http.Server
	ln   net.Listener
	log  *slog.Logger
	path string

	mu     sync.Mutex
	events []ReceivedEvent
	bad    int // pushes that were not Redfish events
}

// ReceivedEvent is one record of an Event payload.
type ReceivedEvent struct {
	EventID   string
	MessageID string
	Origin    string
}

// maxPush bounds one pushed payload (a 200-record replay is a few
// hundred KiB).
const maxPush = 4 << 20

// maxEvents bounds what a scenario keeps (a storm of hours).
const maxEvents = 1 << 20

// NewReceiver listens on addr (host:port; port 0 picks one).
func NewReceiver(addr string, log *slog.Logger) (*Receiver, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("event receiver: %w", err)
	}
	r := &Receiver{ln: ln, log: log, path: "/bmcemu-scenario/events"}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+r.path, r.push)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("event receiver stopped", "err", err)
		}
	}()
	return r, nil
}

// URL is the subscription's Destination.
func (r *Receiver) URL() string { return "http://" + r.ln.Addr().String() + r.path }

func (r *Receiver) push(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, maxPush))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	var ev struct {
		Events []struct {
			EventID           string `json:"EventId"`
			MessageID         string `json:"MessageId"`
			OriginOfCondition struct {
				ID string `json:"@odata.id"`
			} `json:"OriginOfCondition"`
		} `json:"Events"`
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := json.Unmarshal(body, &ev); err != nil {
		r.bad++
		http.Error(w, "not a Redfish Event: "+err.Error(), http.StatusBadRequest)
		return
	}
	for _, e := range ev.Events {
		if len(r.events) >= maxEvents {
			break
		}
		r.events = append(r.events, ReceivedEvent{EventID: e.EventID, MessageID: e.MessageID, Origin: e.OriginOfCondition.ID})
	}
	w.WriteHeader(http.StatusNoContent)
}

// Received is a copy of what arrived so far.
func (r *Receiver) Received() []ReceivedEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ReceivedEvent(nil), r.events...)
}

// Close stops listening.
func (r *Receiver) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return r.srv.Shutdown(ctx)
}

// messageIDMatches compares a received MessageId with a wanted one, which
// may leave out the registry version: "ResourceEvent.ResourceErrorsCorrected"
// matches "ResourceEvent.1.4.3.ResourceErrorsCorrected".
func messageIDMatches(want, got string) bool {
	if strings.EqualFold(want, got) {
		return true
	}
	wp := strings.Split(want, ".")
	gp := strings.Split(got, ".")
	return len(wp) == 2 && len(gp) == 5 && strings.EqualFold(wp[0], gp[0]) && strings.EqualFold(wp[1], gp[4])
}

type eventChecker EventCheck

func (c *eventChecker) want() string {
	s := "event " + c.MessageID
	if c.Origin != "" {
		s += " from " + c.Origin
	}
	if c.Count > 1 {
		s = fmt.Sprintf("%d x %s", c.Count, s)
	}
	if c.Duplicates != nil {
		s += fmt.Sprintf(", %d of them an EventId already received", *c.Duplicates)
	}
	return s
}

func (c *eventChecker) describe() string { return c.want() }
func (c *eventChecker) async() bool      { return true }

func (c *eventChecker) check(_ context.Context, env *Env) error {
	if env.Events == nil {
		return errors.New("no event receiver: the engine subscribes only when the scenario expects events")
	}
	got := env.Events.Received()
	n, dups := 0, 0
	ids := map[string]bool{} // EventIds of matching events
	counts := map[string]int{}
	var order []string
	for _, e := range got {
		if messageIDMatches(c.MessageID, e.MessageID) && (c.Origin == "" || c.Origin == e.Origin) {
			n++
			if ids[e.EventID] {
				dups++
			}
			ids[e.EventID] = true
		}
		key := e.MessageID
		if counts[key] == 0 {
			order = append(order, key)
		}
		counts[key]++
	}
	if n >= max(c.Count, 1) && (c.Duplicates == nil || dups == *c.Duplicates) {
		return nil
	}
	var seen []string
	for _, k := range order {
		seen = append(seen, fmt.Sprintf("%s x%d", k, counts[k]))
	}
	s := fmt.Sprintf("%d matching of %d events received", n, len(got))
	if c.Duplicates != nil {
		s = fmt.Sprintf("%d matching (%d distinct EventIds, %d repeated) of %d events received", n, len(ids), dups, len(got))
	}
	if len(seen) > 0 {
		s += ": " + strings.Join(tail(seen, 40), ", ")
	}
	return &Mismatch{Expected: c.want(), Seen: s}
}
