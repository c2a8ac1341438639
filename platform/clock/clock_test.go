package clock

import (
	"testing"
	"time"
)

func TestManualOrderAndCascade(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewManual(start)
	var got []string
	m.AfterFunc(2*time.Second, func() { got = append(got, "b") })
	m.AfterFunc(time.Second, func() {
		got = append(got, "a")
		// Scheduled from inside a timer: falls within the same Advance.
		m.AfterFunc(500*time.Millisecond, func() { got = append(got, "a+") })
	})
	m.AfterFunc(2*time.Second, func() { got = append(got, "c") })
	stopped := m.AfterFunc(time.Second, func() { got = append(got, "never") })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop should report pending exactly once")
	}
	m.Advance(1500 * time.Millisecond)
	if want := "a a+"; join(got) != want {
		t.Fatalf("after 1.5s: %q, want %q", join(got), want)
	}
	m.Advance(time.Hour)
	if want := "a a+ b c"; join(got) != want {
		t.Fatalf("after 1h: %q, want %q", join(got), want)
	}
	if !m.Now().Equal(start.Add(time.Hour + 1500*time.Millisecond)) {
		t.Fatalf("now %v", m.Now())
	}
	if m.Pending() != 0 {
		t.Fatalf("%d pending", m.Pending())
	}
}

func TestRunUntilIdle(t *testing.T) {
	m := NewManual(time.Unix(0, 0))
	n := 0
	var step func()
	step = func() {
		n++
		if n < 5 {
			m.AfterFunc(time.Second, step)
		}
	}
	m.AfterFunc(time.Second, step)
	if took := m.RunUntilIdle(time.Minute); took != 5*time.Second || n != 5 {
		t.Fatalf("took %v, n=%d", took, n)
	}
}

func TestRealSpeed(t *testing.T) {
	done := make(chan struct{})
	Real{Speed: 1000}.AfterFunc(time.Second, func() { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a 1s timer at speed 1000 did not fire within 10s")
	}
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out
}
