package clock

import (
	"container/heap"
	"time"
)

// timer is one pending AfterFunc in a queue: at is simulated time since the
// owning clock's epoch; seq keeps FIFO order among equal deadlines.
type timer struct {
	at    time.Duration
	seq   uint64
	f     func()
	index int // position in the heap; -1 once fired or stopped
}

// timerQueue orders timers by deadline. It is not safe for concurrent use:
// each clock guards its queue with its own mutex.
type timerQueue struct {
	h   timerHeap
	seq uint64
}

func (q *timerQueue) push(at time.Duration, f func()) *timer {
	q.seq++
	t := &timer{at: at, seq: q.seq, f: f}
	heap.Push(&q.h, t)
	return t
}

// remove takes t out of the queue; it reports whether t was still pending.
func (q *timerQueue) remove(t *timer) bool {
	if t.index < 0 {
		return false
	}
	heap.Remove(&q.h, t.index)
	return true
}

func (q *timerQueue) len() int     { return len(q.h) }
func (q *timerQueue) peek() *timer { return q.h[0] }
func (q *timerQueue) pop() *timer  { return heap.Pop(&q.h).(*timer) }

type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].at == h[j].at {
		return h[i].seq < h[j].seq
	}
	return h[i].at < h[j].at
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
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
