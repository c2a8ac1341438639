package redfish

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/ratelog"
)

// A receiver that answers 200 with a body keeps one connection for many
// pushes: the answer is read before it is closed, so the transport can
// reuse the connection.
func TestPushReusesConnectionAfterBody(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"status":"received","detail":"`+strings.Repeat("x", 4096)+`"}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	m, err := newSubscriptions(Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s := &subscription{Destination: srv.URL + "/events", Context: "c"}
	for i := range 20 {
		if err := m.post(t.Context(), s, rfEvent{ID: uint64(i + 1), MessageID: "Test.1.0.0.Event"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 pushes opened %d connections, want 1", n)
	}
}

// lineCounter counts log records by message and keeps the last one's
// attributes.
type lineCounter struct {
	mu    sync.Mutex
	n     map[string]int
	attrs map[string]slog.Value
}

func (c *lineCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *lineCounter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *lineCounter) WithGroup(string) slog.Handler            { return c }
func (c *lineCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[r.Message]++
	c.attrs = map[string]slog.Value{}
	r.Attrs(func(a slog.Attr) bool { c.attrs[a.Key] = a.Value; return true })
	return nil
}

// A subscriber whose queue is full loses events; the warning is one line
// per second with the count, not one per event, and the drops of the
// storm's last second are logged when that second ends.
func TestSubscriberDropsLogSummary(t *testing.T) {
	lc := &lineCounter{n: map[string]int{}}
	m, err := newSubscriptions(Config{}, slog.New(lc))
	if err != nil {
		t.Fatal(err)
	}
	c := clock.NewManual(time.Unix(1000, 0))
	m.dropLog = ratelog.NewFlushing(time.Second, c, m.dropsHeldBack)
	m.subs["1"] = &subscription{ID: "1", Destination: "http://127.0.0.1/x", q: make(chan rfEvent, 1)}
	const msg = "redfish: subscriber queue full; events dropped"
	for i := range 100 {
		m.dispatch(rfEvent{ID: uint64(i + 1), MessageID: "Test.1.0.0.Event"})
	}
	if lc.n[msg] != 1 {
		t.Errorf("99 drops logged %d lines, want 1", lc.n[msg])
	}
	c.Advance(time.Second)
	if lc.n[msg] != 2 || lc.attrs["since_last_line"].Uint64() != 98 || lc.attrs["subscription"].String() != "1" {
		t.Errorf("a second after the storm: %d lines, last %v; want 2, for 98 drops", lc.n[msg], lc.attrs)
	}
	c.Advance(time.Second)
	m.dispatch(rfEvent{ID: 101, MessageID: "Test.1.0.0.Event"})
	if lc.n[msg] != 3 || lc.attrs["since_last_line"].Uint64() != 1 || lc.attrs["dropped_total"].Uint64() != 100 {
		t.Errorf("%d lines, last %v", lc.n[msg], lc.attrs)
	}
	if got := m.dropped.Load(); got != 100 {
		t.Errorf("dropped counter %d, want 100", got)
	}
}
