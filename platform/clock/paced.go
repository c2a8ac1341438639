package clock

import (
	"sync"
	"time"
)

// Paced runs timers as a discrete-event scheduler paced by the wall clock:
// each timer has a simulated deadline, timers fire one at a time in deadline
// order on one goroutine, and a timer set while another fires counts from
// that one's deadline. So host latency (a busy machine, the race detector,
// a slow subscriber) can delay the simulated hardware but never reorder it:
// at speed 1000 a firmware's 5 s watchdog (5 ms of wall time) still cannot
// overtake the 0.6 s of training it guards. Now stays wall-clock, as with
// Real, so logs and SEL entries line up with the host.
type Paced struct {
	speed  float64
	wall0  time.Time // wall time at creation
	mu     sync.Mutex
	vnow   time.Duration // simulated time since wall0 of the last fired timer
	firing bool
	queue  timerQueue
	run    bool
	holds  int
	wake   chan struct{}
}

// NewPaced returns a paced clock; speed scales simulated delays as in Real.
func NewPaced(speed float64) *Paced {
	if !(speed > 0) {
		speed = 1
	}
	return &Paced{speed: speed, wall0: time.Now(), wake: make(chan struct{}, 1)}
}

// Now implements Clock: wall time.
func (c *Paced) Now() time.Time { return time.Now() }

// wallVirtual is the simulated time the wall clock corresponds to.
func (c *Paced) wallVirtual() time.Duration {
	return time.Duration(float64(time.Since(c.wall0)) * c.speed)
}

type pacedTimer struct {
	c *Paced
	t *timer
}

// AfterFunc implements Clock.
func (c *Paced) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	base := c.vnow
	if !c.firing {
		base = max(base, c.wallVirtual())
	}
	t := c.queue.push(base+max(d, 0), f)
	if !c.run {
		c.run = true
		go c.loop()
	} else {
		c.poke()
	}
	return pacedTimer{c: c, t: t}
}

func (c *Paced) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Hold keeps timers from firing until the returned release runs: an
// operator command runs whole at one simulated instant, so a timeout the
// command itself armed cannot fire while the command is still working (at
// high speeds, milliseconds of host time are seconds of simulated time).
func (c *Paced) Hold() (release func()) {
	c.mu.Lock()
	c.holds++
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.holds--
		c.mu.Unlock()
		c.poke()
	}
}

func (t pacedTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.c.queue.remove(t.t)
}

func (c *Paced) loop() {
	for {
		c.mu.Lock()
		if c.queue.len() == 0 {
			c.run = false
			c.mu.Unlock()
			return
		}
		if c.holds > 0 {
			c.mu.Unlock()
			<-c.wake
			continue
		}
		next := c.queue.peek()
		wait := time.Duration(float64(next.at-c.wallVirtual()) / c.speed)
		if wait > 0 {
			c.mu.Unlock()
			tm := time.NewTimer(wait)
			select {
			case <-tm.C:
			case <-c.wake:
				tm.Stop()
			}
			continue
		}
		c.queue.pop()
		c.vnow = max(c.vnow, next.at)
		c.firing = true
		c.mu.Unlock()
		next.f()
		c.mu.Lock()
		c.firing = false
		c.mu.Unlock()
	}
}
