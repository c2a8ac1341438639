package ratelog

import (
	"testing"
	"time"
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
