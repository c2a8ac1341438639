package ratelog

import (
	"sync"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New[string](time.Second, func() time.Time { return now })
	type step struct {
		advance time.Duration
		key     string
		n       uint64
		log     bool
	}
	for i, s := range []step{
		{0, "a", 1, true}, // the first is logged at once
		{0, "a", 0, false},
		{500 * time.Millisecond, "a", 0, false},
		{0, "b", 1, true}, // keys are independent
		{499 * time.Millisecond, "a", 0, false},
		{time.Millisecond, "a", 4, true}, // a second on: the three held back and this one
		{2 * time.Second, "a", 1, true},
	} {
		now = now.Add(s.advance)
		if n, log := l.Note(s.key); n != s.n || log != s.log {
			t.Errorf("step %d: Note(%s) = %d, %v; want %d, %v", i, s.key, n, log, s.n, s.log)
		}
	}
	l.Forget("a")
	if n, log := l.Note("a"); n != 1 || !log {
		t.Errorf("after Forget: %d, %v", n, log)
	}
}

type flushed struct {
	key string
	n   uint64
}

// flushing returns a one-second flushing Limiter on a manual clock, and
// the flushes it made so far.
func flushing() (*clock.Manual, *Limiter[string], func() []flushed) {
	c := clock.NewManual(time.Unix(1000, 0))
	var got []flushed
	l := NewFlushing(time.Second, c, func(k string, n uint64) { got = append(got, flushed{k, n}) })
	return c, l, func() []flushed { return got }
}

// When activity stops, the occurrences held back in the last interval are
// reported as that interval ends, not kept until a next occurrence that
// may never come.
func TestFlushAtIntervalEnd(t *testing.T) {
	c, l, flushes := flushing()
	if n, log := l.Note("a"); n != 1 || !log {
		t.Fatalf("first: %d, %v", n, log)
	}
	for range 3 {
		if _, log := l.Note("a"); log {
			t.Fatal("an occurrence within the interval was let through")
		}
	}
	c.Advance(999 * time.Millisecond)
	if got := flushes(); len(got) != 0 {
		t.Fatalf("flushed before the interval ended: %v", got)
	}
	c.Advance(time.Millisecond)
	if got := flushes(); len(got) != 1 || got[0] != (flushed{"a", 3}) {
		t.Fatalf("at the interval's end: %v, want [{a 3}]", got)
	}
	// Nothing held back: no more lines, however long it stays quiet.
	c.Advance(time.Hour)
	if got := flushes(); len(got) != 1 || c.Pending() != 0 {
		t.Fatalf("after an idle hour: %v, %d timers", got, c.Pending())
	}
}

// A flush counts as the interval's line: an occurrence right after it is
// held back and flushed an interval later, so the rate stays one line per
// interval.
func TestFlushKeepsTheRate(t *testing.T) {
	c, l, flushes := flushing()
	l.Note("a")
	l.Note("a")
	c.Advance(time.Second) // flushes 1
	c.Advance(500 * time.Millisecond)
	if _, log := l.Note("a"); log {
		t.Fatal("half an interval after a flush, a line was let through")
	}
	c.Advance(499 * time.Millisecond)
	if got := flushes(); len(got) != 1 {
		t.Fatalf("%v, want only the first flush yet", got)
	}
	c.Advance(time.Millisecond)
	if got := flushes(); len(got) != 2 || got[1] != (flushed{"a", 1}) {
		t.Fatalf("%v, want a second flush of 1", got)
	}
	c.Advance(time.Second)
	if n, log := l.Note("a"); n != 1 || !log {
		t.Errorf("an interval after the flush: %d, %v; want a line for 1", n, log)
	}
}

// Keys flush apart; a line for a key takes its held-back count and its
// timer; Forget drops both.
func TestFlushPerKey(t *testing.T) {
	c, l, flushes := flushing()
	l.Note("a")
	l.Note("b")
	l.Note("a")
	l.Note("b")
	l.Note("b")
	l.Note("gone")
	l.Note("gone")
	l.Forget("gone")
	c.Advance(time.Second)
	if got := flushes(); len(got) != 2 || got[0] != (flushed{"a", 1}) || got[1] != (flushed{"b", 2}) {
		t.Fatalf("%v, want [{a 1} {b 2}]", got)
	}
	if c.Pending() != 0 {
		t.Errorf("%d timers left", c.Pending())
	}
}

// Under concurrent Notes on wall time, every occurrence is counted once:
// in a line or in a flush.
func TestFlushCountsEveryOccurrenceOnce(t *testing.T) {
	var mu sync.Mutex
	var total uint64
	l := NewFlushing(time.Millisecond, clock.Real{}, func(_ int, n uint64) {
		mu.Lock()
		total += n
		mu.Unlock()
	})
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				if n, log := l.Note(w % 3); log {
					mu.Lock()
					total += n
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	// The last flushes are at most an interval away; the deadline only
	// bounds a failure.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		got := total
		mu.Unlock()
		if got == workers*each {
			return
		}
		if got > workers*each || time.Now().After(deadline) {
			t.Fatalf("%d occurrences counted, want %d", got, workers*each)
		}
		time.Sleep(time.Millisecond)
	}
}
