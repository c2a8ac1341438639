// Package ceiling measures a data path against its ceiling (the same
// bytes moved by the library routine between flat buffers) in paired
// rounds: each round times both back to back in one process, so a noisy
// shared machine slows both alike, and the ratio is taken per round
// before the median, not between medians of separate runs.
//
// Times are the OS thread's CPU time where the platform has it (Linux):
// on a machine shared with other busy processes wall time mostly measures
// the scheduler. Wall-time ratios are reported beside them. Work the path
// leaves to other threads (background GC) is not in its CPU time; the
// paths measured allocate a few MiB per GiB moved.
package ceiling

import (
	"runtime"
	"slices"
	"testing"
	"time"
)

// Sample is one timing: CPU time of the running thread (zero where not
// available) and wall time.
type Sample struct {
	CPU, Wall time.Duration
}

// Time runs f once on a locked OS thread and returns how long it took.
func Time(f func()) Sample {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0, ok := threadCPU()
	t := time.Now()
	f()
	s := Sample{Wall: time.Since(t)}
	if c1, ok1 := threadCPU(); ok && ok1 {
		s.CPU = time.Duration(c1 - c0)
	}
	return s
}

// best is the CPU time when measured, else the wall time.
func (s Sample) best() time.Duration {
	if s.CPU > 0 {
		return s.CPU
	}
	return s.Wall
}

// Buffers returns n flat buffers of size bytes each, offset from one
// another in memory: buffers of a power-of-two size allocated one after
// the other start exactly that far apart, so every stream of a pass over
// them maps to the same cache sets, which slowed the XOR ceiling by a
// quarter. A ceiling should be the best the routine does, so each buffer
// i starts i*(17 pages + 320 bytes) into its allocation.
func Buffers(n, size int) [][]byte {
	const skew = 17*4096 + 320
	out := make([][]byte, n)
	for i := range out {
		b := make([]byte, size+n*skew)
		out[i] = b[i*skew : i*skew+size : i*skew+size]
	}
	return out
}

// Rounds collects paired timings of one path against named ceilings.
type Rounds struct {
	bytes float64
	path  []float64
	ceil  map[string][]float64
	ratio map[string][]float64
	wall  map[string][]float64 // ratios of wall times
	names []string
}

// New records rounds that each move bytes through the path and through
// every ceiling.
func New(bytes int64) *Rounds {
	return &Rounds{bytes: float64(bytes), ceil: map[string][]float64{}, ratio: map[string][]float64{}, wall: map[string][]float64{}}
}

func (r *Rounds) gibs(d time.Duration) float64 { return r.bytes / d.Seconds() / (1 << 30) }

// Add records one round: the path's time and each ceiling's, by name.
func (r *Rounds) Add(path Sample, ceilings map[string]Sample) {
	p := r.gibs(path.best())
	r.path = append(r.path, p)
	for name, d := range ceilings {
		if _, ok := r.ceil[name]; !ok {
			r.names = append(r.names, name)
			slices.Sort(r.names)
		}
		c := r.gibs(d.best())
		r.ceil[name] = append(r.ceil[name], c)
		r.ratio[name] = append(r.ratio[name], p/c)
		r.wall[name] = append(r.wall[name], d.Wall.Seconds()/path.Wall.Seconds())
	}
}

// Report gives the medians as benchmark metrics: path GiB/s, each
// ceiling's GiB/s, and per ceiling the median, lowest and highest of the
// per-round ratios (their spread is how noisy the machine was) and the
// median of the wall-time ratios.
func (r *Rounds) Report(b *testing.B) {
	if len(r.path) == 0 {
		return
	}
	b.ReportMetric(median(r.path), "path-GiB/s")
	for _, n := range r.names {
		b.ReportMetric(median(r.ceil[n]), n+"-GiB/s")
		b.ReportMetric(median(r.ratio[n]), "ratio-"+n)
		b.ReportMetric(slices.Min(r.ratio[n]), "min-ratio-"+n)
		b.ReportMetric(slices.Max(r.ratio[n]), "max-ratio-"+n)
		b.ReportMetric(median(r.wall[n]), "wall-ratio-"+n)
	}
	b.ReportMetric(float64(len(r.path)), "rounds")
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}
