// Package ratelog rate-limits repetitive log lines: the first occurrence
// of a key is logged at once, later ones at most once per interval, each
// line carrying how many occurrences it stands for.
package ratelog

import (
	"sync"
	"time"
)

// Limiter decides, per key, which occurrences get a log line. The zero
// value is not ready: use New.
type Limiter[K comparable] struct {
	every time.Duration
	now   func() time.Time

	mu    sync.Mutex
	state map[K]*state
}

type state struct {
	last    time.Time
	pending uint64
}

// New returns a Limiter that lets one line per key through every interval
// (0: one second); now tells the time (nil: time.Now).
func New[K comparable](every time.Duration, now func() time.Time) *Limiter[K] {
	if every <= 0 {
		every = time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter[K]{every: every, now: now, state: map[K]*state{}}
}

// Note counts one occurrence of k and reports whether to log it now; if
// so, n is the number of occurrences the line stands for (this one and
// those held back since the last line). Held-back occurrences are summed
// into the next line, whenever one comes.
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
		return 0, false
	}
	n = s.pending
	s.last, s.pending = now, 0
	return n, true
}

// Forget drops k's state (a subscriber that is gone).
func (l *Limiter[K]) Forget(k K) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.state, k)
}
