// Package ratelog rate-limits repetitive log lines: the first occurrence
// of a key is logged at once, later ones at most once per interval, each
// line carrying how many occurrences it stands for.
//
// A limiter made with NewFlushing also reports the occurrences held back
// when their interval ends, whether or not another occurrence comes: the
// last few drops of a storm that stopped are not left uncounted until the
// next storm (which may never come).
package ratelog

import (
	"sync"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
)

// Limiter decides, per key, which occurrences get a log line. The zero
// value is not ready: use New or NewFlushing.
type Limiter[K comparable] struct {
	every time.Duration
	now   func() time.Time
	clock clock.Clock     // nil: no flush timers
	flush func(K, uint64) // with clock: hears of held-back occurrences

	mu    sync.Mutex
	state map[K]*state
}

type state struct {
	last    time.Time
	pending uint64
	timer   clock.Timer // the flush at the end of the interval; nil none
}

// New returns a Limiter that lets one line per key through every interval
// (0: one second); now tells the time (nil: time.Now). Occurrences held
// back are summed into the key's next line, whenever one comes.
func New[K comparable](every time.Duration, now func() time.Time) *Limiter[K] {
	if every <= 0 {
		every = time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter[K]{every: every, now: now, state: map[K]*state{}}
}

// NewFlushing returns a Limiter like New's, on c's time (nil: wall time),
// that calls flush(k, n) when an interval of k ends with n > 0
// occurrences held back. The flush takes the place of a line: the next
// occurrence within an interval of it is held back in turn. flush runs on
// the clock's timer goroutine, without the Limiter's lock; it must not
// call Note for the same Limiter while holding a lock Note's callers hold.
func NewFlushing[K comparable](every time.Duration, c clock.Clock, flush func(k K, n uint64)) *Limiter[K] {
	if c == nil {
		c = clock.Real{}
	}
	l := New[K](every, c.Now)
	l.clock, l.flush = c, flush
	return l
}

// Note counts one occurrence of k and reports whether to log it now; if
// so, n is the number of occurrences the line stands for (this one and
// those held back since the last line).
func (l *Limiter[K]) Note(k K) (n uint64, log bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.state[k]
	if s == nil {
		s = &state{}
		l.state[k] = s
	}
	s.pending++
	if !s.last.IsZero() && now.Sub(s.last) < l.every {
		if l.clock != nil && s.timer == nil {
			s.timer = l.afterLocked(k, s, s.last.Add(l.every).Sub(now))
		}
		return 0, false
	}
	if s.timer != nil {
		// The line this occurrence gets carries the count the timer would
		// have flushed.
		s.timer.Stop()
		s.timer = nil
	}
	n = s.pending
	s.last, s.pending = now, 0
	return n, true
}

// afterLocked arms k's flush d from now. The timer checks that it is
// still s's current one, so a timer that fires while Note or Forget
// stops it does nothing.
func (l *Limiter[K]) afterLocked(k K, s *state, d time.Duration) clock.Timer {
	var t clock.Timer
	t = l.clock.AfterFunc(d, func() {
		l.mu.Lock()
		if l.state[k] != s || s.timer != t || s.pending == 0 {
			l.mu.Unlock()
			return
		}
		n := s.pending
		s.last, s.pending, s.timer = l.now(), 0, nil
		l.mu.Unlock()
		l.flush(k, n)
	})
	return t
}

// Forget drops k's state (a subscriber that is gone), occurrences held
// back included.
func (l *Limiter[K]) Forget(k K) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.state[k]; s != nil && s.timer != nil {
		s.timer.Stop()
	}
	delete(l.state, k)
}
