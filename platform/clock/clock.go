// Package clock is the simulated server's sense of time. Hardware steps (a
// slot's power ramp, memory training, a firmware timeout) are scheduled on a
// Clock instead of sleeping, so tests step time deterministically and demos
// run at real-hardware pace or faster.
package clock

import (
	"container/heap"
	"sync"
	"time"
)

// Clock tells the time and runs functions after simulated delays.
type Clock interface {
	Now() time.Time
	// AfterFunc runs f once d of simulated time has passed, on a goroutine
	// of the clock's choosing; f must take its own locks.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop cancels the timer; it reports whether it was still pending.
	Stop() bool
}

// Real runs on wall-clock time. Speed scales simulated delays: 1 is
// real-hardware pace, 10 runs ten times faster. Timestamps stay wall-clock
// so logs and SEL entries line up with the host they run on.
type Real struct {
	Speed float64
}

// Now implements Clock.
func (Real) Now() time.Time { return time.Now() }

// AfterFunc implements Clock.
func (r Real) AfterFunc(d time.Duration, f func()) Timer {
	if r.Speed > 0 && r.Speed != 1 {
		d = time.Duration(float64(d) / r.Speed)
	}
	return time.AfterFunc(d, f)
}

// Manual is a clock that moves only when told to. Advance runs every timer
// that falls due, in deadline order (FIFO among equal deadlines), on the
// caller's goroutine, so a test sees each step's effects before it returns.
type Manual struct {
	mu    sync.Mutex
	now   time.Time
	seq   uint64
	queue timerHeap
}

// NewManual starts a manual clock at t.
func NewManual(t time.Time) *Manual { return &Manual{now: t} }

// Now implements Clock.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

type manualTimer struct {
	m     *Manual
	at    time.Time
	seq   uint64
	f     func()
	index int // position in the heap; -1 once fired or stopped
}

// AfterFunc implements Clock.
func (m *Manual) AfterFunc(d time.Duration, f func()) Timer {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	t := &manualTimer{m: m, at: m.now.Add(d), seq: m.seq, f: f}
	heap.Push(&m.queue, t)
	return t
}

func (t *manualTimer) Stop() bool {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&t.m.queue, t.index)
	return true
}

// Advance moves time forward by d, firing due timers as it passes them.
// Timers scheduled by a firing timer run too if they fall within d.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	end := m.now.Add(d)
	m.mu.Unlock()
	m.AdvanceTo(end)
}

// AdvanceTo moves time forward to t.
func (m *Manual) AdvanceTo(t time.Time) {
	for {
		m.mu.Lock()
		if len(m.queue) == 0 || m.queue[0].at.After(t) {
			if t.After(m.now) {
				m.now = t
			}
			m.mu.Unlock()
			return
		}
		next := heap.Pop(&m.queue).(*manualTimer)
		if next.at.After(m.now) {
			m.now = next.at
		}
		m.mu.Unlock()
		next.f()
	}
}

// Pending reports how many timers are waiting.
func (m *Manual) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.queue)
}

// RunUntilIdle fires timers until none is left or limit of simulated time
// has passed, and returns the simulated time it took.
func (m *Manual) RunUntilIdle(limit time.Duration) time.Duration {
	start := m.Now()
	deadline := start.Add(limit)
	for {
		m.mu.Lock()
		if len(m.queue) == 0 || m.queue[0].at.After(deadline) {
			m.mu.Unlock()
			return m.Now().Sub(start)
		}
		at := m.queue[0].at
		m.mu.Unlock()
		m.AdvanceTo(at)
	}
}

type timerHeap []*manualTimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*manualTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	t.index = -1
	*h = old[:n-1]
	return t
}
