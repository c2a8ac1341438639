package clock

import (
	"sync"
	"testing"
	"time"
)

// At a speed where the watchdog is microseconds of wall time, a chain of
// steps that fits inside it in simulated time still finishes first. Both
// are set from one callback, as the firmware's _L01 handler does.
func TestPacedClockKeepsSimulatedOrder(t *testing.T) {
	c := NewPaced(1e6)
	var mu sync.Mutex
	var order []string
	done := make(chan struct{})
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	var watchdog interface{ Stop() bool }
	var step func(n int)
	step = func(n int) {
		time.Sleep(time.Millisecond) // host latency far above 5 s / 1e6
		note("step")
		if n == 5 {
			mu.Lock()
			w := watchdog
			mu.Unlock()
			if !w.Stop() {
				t.Error("watchdog already fired")
			}
			close(done)
			return
		}
		c.AfterFunc(100*time.Millisecond, func() { step(n + 1) })
	}
	c.AfterFunc(0, func() {
		mu.Lock()
		watchdog = c.AfterFunc(5*time.Second, func() { note("watchdog"); close(done) })
		mu.Unlock()
		c.AfterFunc(100*time.Millisecond, func() { step(1) })
	})
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("timers never fired")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 5 || order[4] != "step" {
		t.Fatalf("order %v", order)
	}
	stopped := c.AfterFunc(time.Hour, func() { t.Error("stopped timer fired") })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop should report pending once")
	}
}

func TestPacedClockHold(t *testing.T) {
	c := NewPaced(1e6)
	fired := make(chan struct{})
	release := c.Hold()
	c.AfterFunc(time.Millisecond, func() { close(fired) })
	time.Sleep(20 * time.Millisecond)
	select {
	case <-fired:
		t.Fatal("timer fired during a hold")
	default:
	}
	release()
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("timer did not fire after the hold")
	}
}
