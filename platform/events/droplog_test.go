package events

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/ratelog"
)

type lineCounter struct {
	mu    sync.Mutex
	n     map[string]int
	since uint64
}

func (c *lineCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *lineCounter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *lineCounter) WithGroup(string) slog.Handler            { return c }
func (c *lineCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[r.Message]++
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "since_last_line" {
			c.since = a.Value.Uint64()
		}
		return true
	})
	return nil
}

// A full subscriber queue logs one line a second with the count, not one
// per dropped record; the drops of the storm's last second are logged when
// that second ends, though nothing is published after it.
func TestDropLogSummary(t *testing.T) {
	lc := &lineCounter{n: map[string]int{}}
	b := NewBus(slog.New(lc))
	c := clock.NewManual(time.Unix(1000, 0))
	b.dropLog = ratelog.NewFlushing(time.Second, c, b.dropsHeldBack)
	s := b.Subscribe("slow", 1)
	defer s.Close()
	for range 100 {
		b.Publish(c.Now(), PowerChanged{})
	}
	if lc.n[msgSubscriberDrop] != 1 || s.Dropped() != 99 {
		t.Errorf("%d drops logged %d lines, want 1", s.Dropped(), lc.n[msgSubscriberDrop])
	}
	c.Advance(time.Second)
	if lc.n[msgSubscriberDrop] != 2 || lc.since != 98 {
		t.Errorf("a second after the storm: %d lines, the last for %d drops; want 2 and 98", lc.n[msgSubscriberDrop], lc.since)
	}
	c.Advance(time.Minute)
	if lc.n[msgSubscriberDrop] != 2 {
		t.Errorf("%d lines after a quiet minute, want still 2", lc.n[msgSubscriberDrop])
	}
}

// A handler's backlog drops are summed and flushed the same way, under
// their own message.
func TestDropLogHandlerFlush(t *testing.T) {
	lc := &lineCounter{n: map[string]int{}}
	b := NewBus(slog.New(lc))
	c := clock.NewManual(time.Unix(1000, 0))
	b.dropLog = ratelog.NewFlushing(time.Second, c, b.dropsHeldBack)
	release := make(chan struct{})
	h := b.Handle("stuck", 1, func(Record) { <-release })
	defer h.Close()
	defer close(release)
	for range 50 {
		b.Publish(c.Now(), PowerChanged{})
	}
	first := lc.n[msgHandlerDrop]
	if first != 1 {
		t.Fatalf("%d lines during the storm, want 1", first)
	}
	c.Advance(time.Second)
	if lc.n[msgHandlerDrop] != 2 || lc.since == 0 {
		t.Errorf("a second after the storm: %d lines (last for %d drops), want 2", lc.n[msgHandlerDrop], lc.since)
	}
}
