// Package clock is the simulated server's sense of time. Hardware steps (a
// slot's power ramp, memory training, a firmware timeout) are scheduled on a
// Clock instead of sleeping, so tests step time deterministically and demos
// run at real-hardware pace or faster.
package clock

import (
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
	epoch time.Time
	now   time.Duration // since epoch
	queue timerQueue
}

// NewManual starts a manual clock at t.
func NewManual(t time.Time) *Manual { return &Manual{epoch: t} }

// Now implements Clock.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.epoch.Add(m.now)
}

type manualTimer struct {
	m *Manual
	t *timer
}

// AfterFunc implements Clock.
func (m *Manual) AfterFunc(d time.Duration, f func()) Timer {
	m.mu.Lock()
	defer m.mu.Unlock()
	return manualTimer{m: m, t: m.queue.push(m.now+max(d, 0), f)}
}

func (t manualTimer) Stop() bool {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	return t.m.queue.remove(t.t)
}

// Advance moves time forward by d, firing due timers as it passes them.
// Timers scheduled by a firing timer run too if they fall within d.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	end := m.now + d
	m.mu.Unlock()
	m.advanceTo(end)
}

// AdvanceTo moves time forward to t.
func (m *Manual) AdvanceTo(t time.Time) { m.advanceTo(t.Sub(m.epoch)) }

func (m *Manual) advanceTo(end time.Duration) {
	for {
		m.mu.Lock()
		if m.queue.len() == 0 || m.queue.peek().at > end {
			m.now = max(m.now, end)
			m.mu.Unlock()
			return
		}
		next := m.queue.pop()
		m.now = max(m.now, next.at)
		m.mu.Unlock()
		next.f()
	}
}

// Pending reports how many timers are waiting.
func (m *Manual) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.queue.len()
}

// RunUntilIdle fires timers until none is left or limit of simulated time
// has passed, and returns the simulated time it took.
func (m *Manual) RunUntilIdle(limit time.Duration) time.Duration {
	m.mu.Lock()
	start := m.now
	m.mu.Unlock()
	deadline := start + limit
	for {
		m.mu.Lock()
		if m.queue.len() == 0 || m.queue.peek().at > deadline {
			took := m.now - start
			m.mu.Unlock()
			return took
		}
		at := m.queue.peek().at
		m.mu.Unlock()
		m.advanceTo(at)
	}
}
