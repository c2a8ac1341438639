package events

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestHandlerOrderAndIdle(t *testing.T) {
	b := NewBus(nil)
	var mu sync.Mutex
	var got []uint64
	h := b.Handle("t", 1000, func(r Record) {
		mu.Lock()
		got = append(got, r.Seq)
		mu.Unlock()
	})
	before := runtime.NumGoroutine()
	for range 500 {
		b.Publish(time.Time{}, PowerChanged{On: true})
	}
	h.Wait()
	mu.Lock()
	if len(got) != 500 {
		t.Fatalf("handled %d records, want 500", len(got))
	}
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("record %d has seq %d: out of order", i, s)
		}
	}
	mu.Unlock()
	// Drained: the handler's goroutine is gone.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the backlog drained, %d before publishing", n, before)
	}
	h.Close()
	b.Publish(time.Time{}, PowerChanged{})
	h.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 500 {
		t.Errorf("a closed handler was called: %d records", len(got))
	}
}

func TestHandlerBacklogBound(t *testing.T) {
	b := NewBus(nil)
	release := make(chan struct{})
	var n int
	h := b.Handle("slow", 3, func(Record) {
		<-release
		n++
	})
	for range 10 {
		b.Publish(time.Time{}, PowerChanged{})
	}
	// Three wait (and one more if the drain took the first before the
	// rest arrived); the others are dropped and counted.
	close(release)
	h.Wait()
	if d := h.Dropped(); n+int(d) != 10 || n < 3 || n > 4 {
		t.Errorf("handled %d, dropped %d; want 3 or 4 handled and the rest counted", n, d)
	}
	h.Close()
}

func TestHandlerCloseWaitsForCall(t *testing.T) {
	b := NewBus(nil)
	in, out := make(chan struct{}), make(chan struct{})
	h := b.Handle("c", 10, func(Record) {
		close(in)
		<-out
	})
	b.Publish(time.Time{}, PowerChanged{})
	<-in
	closed := make(chan struct{})
	go func() {
		h.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while fn was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(out)
	<-closed
}
