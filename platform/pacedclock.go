package platform

import (
	"container/heap"
	"sync"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
)

// pacedClock runs a clock.Real's timers as a discrete-event scheduler paced
// by the wall clock: each timer has a simulated deadline, timers fire one at
// a time in deadline order on one goroutine, and a timer set while another
// fires counts from that one's deadline. So host latency (a busy machine,
// the race detector, a slow subscriber) can delay the simulated hardware but
// never reorder it: at --speed 1000 the firmware's 5 s watchdog (5 ms of
// wall time) still cannot overtake the 0.6 s of training it guards. Now
// stays wall-clock, as with clock.Real, so logs and SEL entries line up with
// the host.
type pacedClock struct {
	speed  float64
	wall0  time.Time // wall time at creation
	mu     sync.Mutex
	vnow   time.Duration // simulated time since wall0 of the last fired timer
	firing bool
	seq    uint64
	queue  pacedHeap
	run    bool
	holds  int
	wake   chan struct{}
}

func newPacedClock(speed float64) *pacedClock {
	if !(speed > 0) {
		speed = 1
	}
	return &pacedClock{speed: speed, wall0: time.Now(), wake: make(chan struct{}, 1)}
}

// Now implements clock.Clock: wall time.
func (c *pacedClock) Now() time.Time { return time.Now() }

// wallVirtual is the simulated time the wall clock corresponds to.
func (c *pacedClock) wallVirtual() time.Duration {
	return time.Duration(float64(time.Since(c.wall0)) * c.speed)
}

type pacedTimer struct {
	c     *pacedClock
	at    time.Duration
	seq   uint64
	f     func()
	index int
}

// AfterFunc implements clock.Clock.
func (c *pacedClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	base := c.vnow
	if !c.firing {
		base = max(base, c.wallVirtual())
	}
	c.seq++
	t := &pacedTimer{c: c, at: base + max(d, 0), seq: c.seq, f: f}
	heap.Push(&c.queue, t)
	if !c.run {
		c.run = true
		go c.loop()
	} else {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return t
}

// hold keeps timers from firing until the returned release runs: an
// operator command runs whole at one simulated instant, so a timeout the
// command itself armed cannot fire while the command is still working (at
// high speeds, milliseconds of host time are seconds of simulated time).
func (c *pacedClock) hold() (release func()) {
	c.mu.Lock()
	c.holds++
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.holds--
		c.mu.Unlock()
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

func (t *pacedTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&t.c.queue, t.index)
	return true
}

func (c *pacedClock) loop() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.run = false
			c.mu.Unlock()
			return
		}
		if c.holds > 0 {
			c.mu.Unlock()
			<-c.wake
			continue
		}
		next := c.queue[0]
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
		heap.Pop(&c.queue)
		if next.at > c.vnow {
			c.vnow = next.at
		}
		c.firing = true
		c.mu.Unlock()
		next.f()
		c.mu.Lock()
		c.firing = false
		c.mu.Unlock()
	}
}

type pacedHeap []*pacedTimer

func (h pacedHeap) Len() int { return len(h) }
func (h pacedHeap) Less(i, j int) bool {
	if h[i].at == h[j].at {
		return h[i].seq < h[j].seq
	}
	return h[i].at < h[j].at
}
func (h pacedHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *pacedHeap) Push(x any) {
	t := x.(*pacedTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *pacedHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	t.index = -1
	*h = old[:n-1]
	return t
}
