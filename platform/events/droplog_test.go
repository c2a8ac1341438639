package events

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

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
// per dropped record.
func TestDropLogSummary(t *testing.T) {
	lc := &lineCounter{n: map[string]int{}}
	b := NewBus(slog.New(lc))
	now := time.Unix(1000, 0)
	b.dropLog = ratelog.New[string](time.Second, func() time.Time { return now })
	s := b.Subscribe("slow", 1)
	defer s.Close()
	for range 100 {
		b.Publish(now, PowerChanged{})
	}
	const msg = "event subscriber queue full; records dropped"
	if lc.n[msg] != 1 || s.Dropped() != 99 {
		t.Errorf("%d drops logged %d lines, want 1", s.Dropped(), lc.n[msg])
	}
	now = now.Add(time.Second)
	b.Publish(now, PowerChanged{})
	if lc.n[msg] != 2 || lc.since != 99 {
		t.Errorf("%d lines, the last for %d drops; want 2 and 99", lc.n[msg], lc.since)
	}
}
