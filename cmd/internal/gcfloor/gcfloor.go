// Package gcfloor keeps the garbage collector's headroom from shrinking
// with a small live heap.
//
// With GOGC=100 the collector runs each time the heap grows by its live
// size. A lone bmcemu keeps about 2 MiB live while every request
// allocates about 3 KiB (most of it net/http's), so under load it
// collected a dozen times a second and marked the whole live heap each
// time: GOGC=1000 measured 6% less server CPU per Redfish GET (34.3 to
// 32.1 us, the same run). Raising GOGC for good would multiply a fleet's
// large heap instead, so the percentage follows the live heap: the
// headroom is at least Floor, and as soon as the live heap exceeds Floor
// the collector runs as GOGC=100 would.
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// Floor is the least headroom (heap growth between collections) kept.
const Floor = 16 << 20

// maxPercent bounds GOGC when the live heap is tiny (a process that has
// just started): 16 MiB of headroom over a few hundred KiB live would
// otherwise ask for GOGC in the tens of thousands.
const maxPercent = 2000

// Percent is the GOGC that gives a live heap of live bytes a headroom
// of at least floor bytes, and never less than the default 100.
func Percent(live, floor uint64) int {
	if live == 0 {
		return maxPercent
	}
	p := (floor*100 + live - 1) / live
	switch {
	case p < 100:
		return 100
	case p > maxPercent:
		return maxPercent
	}
	return int(p)
}

// Start adjusts GOGC after every collection until stop is called, which
// restores the setting found. It does nothing when the GOGC environment
// variable is set: the operator has chosen.
func Start() (stop func()) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		return func() {}
	}
	t := &tuner{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.prev = debug.SetGCPercent(100)
	t.set = 100
	t.adjust()
	t.arm()
	return func() {
		if t.stopped.CompareAndSwap(false, true) {
			debug.SetGCPercent(t.prev)
		}
	}
}

type tuner struct {
	sample  []metrics.Sample
	prev    int
	set     int // touched by Start, then only by the cleanup goroutine
	stopped atomic.Bool
}

// sentinel is collected once per GC cycle; its cleanup re-arms a new
// one. The pointer field keeps it out of the tiny allocator, whose
// blocks outlive their objects.
type sentinel struct{ _ *byte }

func (t *tuner) arm() {
	runtime.AddCleanup(&sentinel{}, func(t *tuner) {
		if t.stopped.Load() {
			return
		}
		t.adjust()
		t.arm()
	}, t)
}

func (t *tuner) adjust() {
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	p := Percent(t.sample[0].Value.Uint64(), Floor)
	// Each change recomputes the pacer's goal; a few percent either way
	// is not worth one.
	if d := p - t.set; d > t.set/8 || -d > t.set/8 {
		debug.SetGCPercent(p)
		t.set = p
	}
}
