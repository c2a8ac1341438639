package pages

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
)

// opsSpace is the frames the op driver touches: several extents and, with
// the first slabs' sizes, several slabs.
const opsSpace = 5*extentPages + 7

// fillTag writes a page whose every 8-byte word names (pfn, tag), so a
// page copied to the wrong frame or left stale shows.
func fillTag(p *Page, pfn uint64, tag byte) {
	for i := 0; i < PageSize; i += 8 {
		binary.LittleEndian.PutUint64(p[i:], pfn<<8|uint64(tag))
	}
}

// runOps applies ops (3 bytes each: op, frame, argument) to a Store and to
// a reference map and fails at the first difference: contents, the set of
// written frames, Len, or Span and Claim runs that are not the store's own
// pages of consecutive frames.
func runOps(t *testing.T, ops []byte) {
	s := New()
	ref := map[uint64]Page{}
	var p Page
	checkRun := func(what string, pfn uint64, run []Page, limit int) {
		t.Helper()
		if len(run) > limit {
			t.Fatalf("%s(%d, %d) returned %d pages", what, pfn, limit, len(run))
		}
		for j := range run {
			if q := s.Page(pfn + uint64(j)); q != &run[j] {
				t.Fatalf("%s(%d): page %d of the run is not the store's frame %d", what, pfn, j, pfn+uint64(j))
			}
		}
	}
	for ; len(ops) >= 3; ops = ops[3:] {
		pfn, arg := uint64(ops[1])%opsSpace, ops[2]
		limit := int(arg%40) + 1
		switch ops[0] % 7 {
		case 0:
			fillTag(&p, pfn, arg)
			_ = s.WritePage(pfn, &p)
			ref[pfn] = p
		case 1:
			s.Delete(pfn)
			delete(ref, pfn)
		case 2:
			if arg%8 == 0 {
				s.Reset()
				clear(ref)
			}
		case 3:
			run := s.Claim(pfn, limit)
			if len(run) == 0 {
				t.Fatalf("Claim(%d, %d) returned nothing", pfn, limit)
			}
			checkRun("Claim", pfn, run, limit)
			for j := range run {
				f := pfn + uint64(j)
				fillTag(&run[j], f, arg)
				ref[f] = run[j]
			}
		case 4:
			run := s.Span(pfn, limit)
			if _, ok := ref[pfn]; ok != (len(run) > 0) {
				t.Fatalf("Span(%d) = %d pages, written=%v", pfn, len(run), ok)
			}
			checkRun("Span", pfn, run, limit)
		case 5:
			c := s.Clone()
			if f, differ := c.Diff(s); differ {
				t.Fatalf("clone differs at %d", f)
			}
			// Runs is PFNs in maximal runs, and copying them frame range
			// by frame range copies the store.
			var flat []uint64
			cf := New()
			for i, r := range s.Runs() {
				if r.N == 0 || i > 0 && flat[len(flat)-1]+1 >= r.First {
					t.Fatalf("run %+v empty, overlapping or not maximal", r)
				}
				for f := range r.N {
					flat = append(flat, r.First+f)
				}
				cf.CopyFrames(s, Frames{First: r.First - 1, N: r.N + 2}) // unwritten ends are skipped
			}
			if got := s.PFNs(); !slices.Equal(flat, got) {
				t.Fatalf("Runs %v, PFNs %v", flat, got)
			}
			if f, differ := cf.Diff(s); differ {
				t.Fatalf("CopyFrames copy differs at %d", f)
			}
			if len(ref) > 0 {
				// A clone shares no memory with its original.
				for f := range ref {
					c.Slot(f)[0] ^= 1
					break
				}
				if _, differ := c.Diff(s); !differ {
					t.Fatal("clone shares memory")
				}
			}
		case 6:
			b := []byte{arg, arg + 1, arg + 2}
			addr := pfn*PageSize + uint64(arg)*16
			s.Write(addr, b)
			q := ref[pfn]
			copy(q[uint64(arg)*16:], b)
			ref[pfn] = q
		}
	}
	if s.Len() != len(ref) {
		t.Fatalf("Len %d, reference %d", s.Len(), len(ref))
	}
	want := slices.Sorted(func(yield func(uint64) bool) {
		for f := range ref {
			if !yield(f) {
				return
			}
		}
	})
	if got := s.PFNs(); !slices.Equal(got, want) {
		t.Fatalf("PFNs %v, reference %v", got, want)
	}
	for f, q := range ref {
		if err := s.ReadPage(f, &p); err != nil || p != q {
			t.Fatalf("frame %d differs from the reference", f)
		}
	}
}

// Property: random writes, deletes, resets, claims, spans, clones and byte
// writes keep the store equal to a plain map of pages.
func TestStoreMatchesMapReference(t *testing.T) {
	for seed := range uint64(12) {
		r := rand.New(rand.NewPCG(seed, 3))
		ops := make([]byte, 3*1500)
		for i := range ops {
			ops[i] = byte(r.Uint32())
		}
		runOps(t, ops)
	}
}

// FuzzStoreOps: any sequence of store operations keeps it equal to a
// plain map of pages, and Span and Claim return the frames asked for.
func FuzzStoreOps(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 0, 40, 4, 0, 40, 1, 5, 0, 2, 0, 0, 3, 0, 39, 5, 0, 0})
	f.Add([]byte{3, 60, 30, 3, 62, 9, 4, 60, 39, 6, 61, 200})
	f.Fuzz(runOps)
}

// Pages written in ascending order come back as runs as long as the
// slabs: the copy and XOR paths depend on it for their speed, so a change
// that scatters them must fail here, not only in a benchmark.
func TestRunsFollowSlabs(t *testing.T) {
	const n = 3 * maxSlab
	w := Workload{Pattern: Pattern{Seed: 1}, Ranges: []Range{{0, n * PageSize}}}
	src := New()
	if _, err := w.Run(src); err != nil {
		t.Fatal(err)
	}
	var lens []int
	for pfn := uint64(0); pfn < n; {
		run := src.Span(pfn, MaxRun)
		lens = append(lens, len(run))
		pfn += uint64(len(run))
	}
	// Slabs of 16, 32, ..., 1024 pages, then 1024s.
	want := []int{16, 32, 64, 128, 256, 512, 1024, 1024, 16}
	if !slices.Equal(lens, want) {
		t.Fatalf("runs %v, want slab-long runs %v", lens, want)
	}
	// A reset store copied into in the same order claims the same runs.
	dst := src.Clone()
	dst.Reset()
	dst.CopyRuns(src, src.PFNs())
	if f, differ := dst.Diff(src); differ {
		t.Fatalf("copy differs at %d", f)
	}
	for pfn := uint64(0); pfn < n; {
		a, b := src.Span(pfn, MaxRun), dst.Span(pfn, MaxRun)
		if len(b) < min(len(a), 256) {
			t.Fatalf("copy at %d in a run of %d pages, source run %d", pfn, len(b), len(a))
		}
		pfn += uint64(len(b))
	}
	rep, err := w.Verify(dst)
	if err != nil || !rep.OK() {
		t.Fatalf("verify copy: %+v %v", rep, err)
	}
}

// A run never wraps past the last page frame onto frame 0.
func TestRunsStopAtTheLastFrame(t *testing.T) {
	s := New()
	last := ^uint64(0)
	if run := s.Claim(last-1, 8); len(run) != 2 || s.Len() != 2 || s.Has(0) {
		t.Fatalf("claim at the top: %d pages, Len %d, frame 0 written %v", len(run), s.Len(), s.Has(0))
	}
	if run := s.Span(last-1, 8); len(run) != 2 {
		t.Fatalf("span at the top: %d pages", len(run))
	}
}
