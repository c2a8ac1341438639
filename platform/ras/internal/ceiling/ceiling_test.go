package ceiling

import (
	"testing"
	"time"
	"unsafe"
)

func TestMedianAndRatiosPerRound(t *testing.T) {
	r := New(1 << 30)
	// Round 1: path 1 GiB/s, ceiling 2 GiB/s; round 2: both twice as fast
	// (a quieter moment): the per-round ratio stays 0.5.
	at := func(d time.Duration) Sample { return Sample{CPU: d, Wall: 3 * d} }
	r.Add(at(time.Second), map[string]Sample{"copy": at(time.Second / 2)})
	r.Add(at(time.Second/2), map[string]Sample{"copy": at(time.Second / 4)})
	r.Add(at(time.Second/4), map[string]Sample{"copy": at(time.Second / 8)})
	if got := median(r.path); got != 2 {
		t.Fatalf("median path %v GiB/s, want 2", got)
	}
	for _, x := range r.ratio["copy"] {
		if x != 0.5 {
			t.Fatalf("ratios %v, want 0.5 each", r.ratio["copy"])
		}
	}
	if got := median(r.wall["copy"]); got != 0.5 {
		t.Fatalf("wall ratio %v, want 0.5", got)
	}
	// Without a CPU time the wall time stands in.
	if (Sample{Wall: time.Second}).best() != time.Second {
		t.Fatal("no fallback to wall time")
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Fatalf("even median %v", got)
	}
}

func TestBuffersDoNotShareCacheSets(t *testing.T) {
	const size = 1 << 20
	bufs := Buffers(3, size)
	seen := map[uintptr]bool{}
	for i, b := range bufs {
		if len(b) != size || cap(b) != size {
			t.Fatalf("buffer %d: len %d cap %d", i, len(b), cap(b))
		}
		// Distinct offsets modulo 1 MiB (an L2's set span and more).
		off := uintptr(unsafe.Pointer(&b[0])) % size
		if seen[off] {
			t.Fatalf("buffer %d starts at the same offset modulo 1 MiB as another", i)
		}
		seen[off] = true
	}
}
