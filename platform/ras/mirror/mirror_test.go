package mirror

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/bmcemu/bmcemu/platform/ras/pages"
)

const side = 64 << 20 // 64 MiB per side in tests

func kinds(evs []Event) []EventKind {
	var out []EventKind
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

func workload(seed uint64) pages.Workload {
	return pages.Workload{Pattern: pages.Pattern{Seed: seed}, Ranges: []pages.Range{{Base: 0, Length: 4 << 20}, {Base: 32 << 20, Length: 1 << 20}}, Stride: 1}
}

func verify(t *testing.T, w pages.Workload, r pages.PageReader) {
	t.Helper()
	rep, err := w.Verify(r)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", rep.Mismatch, err)
	}
}

func TestCapacity(t *testing.T) {
	if Usable(2*(64<<30)) != 64<<30 {
		t.Fatal("usable")
	}
	m, err := New(side, side)
	if err != nil || m.Size() != side {
		t.Fatal(err)
	}
	if _, err := New(side, 2*side); !errors.Is(err, ErrMismatch) {
		t.Fatalf("mismatched sides: %v", err)
	}
	var p pages.Page
	if err := m.WritePage(side/pages.PageSize, &p); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("past the end: %v", err)
	}
}

func TestUEFailoverAndResilver(t *testing.T) {
	m, _ := New(side, side)
	w := workload(1)
	if _, err := w.Run(m); err != nil {
		t.Fatal(err)
	}
	if m.Side(0).Len() != m.Side(1).Len() || m.Side(0).Len() != 1280 {
		t.Fatal("writes did not reach both sides")
	}
	// UE on the primary at a written page: failover, no data loss.
	if err := m.InjectUE(0, 100); err != nil {
		t.Fatal(err)
	}
	verify(t, w, m)
	if got := kinds(m.Drain()); !reflect.DeepEqual(got, []EventKind{UncorrectableError, Failover, LostRedundancy}) {
		t.Fatalf("events %v", got)
	}
	if m.Redundancy() != RedundancyLost || m.State(0) != Failed || m.State(1) != Active {
		t.Fatalf("state %v %v %v", m.Redundancy(), m.State(0), m.State(1))
	}
	// Refusals, with reasons.
	for _, c := range []struct {
		side int
		cap  uint64
		want error
	}{{1, side, ErrRefused}, {0, side / 2, ErrMismatch}} {
		if err := m.Replace(c.side, c.cap); !errors.Is(err, c.want) {
			t.Fatalf("replace(%d,%d) = %v", c.side, c.cap, err)
		}
	}
	if _, err := m.Resilver(0); !errors.Is(err, ErrNotResilver) {
		t.Fatal(err)
	}
	// Hot-replace side 0 and re-silver in steps while a second workload
	// writes other pages.
	if err := m.Replace(0, side); err != nil {
		t.Fatal(err)
	}
	w2 := pages.Workload{Pattern: pages.Pattern{Seed: 2}, Ranges: []pages.Range{{Base: 48 << 20, Length: 1 << 20}}}
	done, steps := false, 0
	pfns := pfnList(w2)
	for !done {
		var err error
		if done, err = m.Resilver(97); err != nil {
			t.Fatal(err)
		}
		if steps < len(pfns) {
			var p pages.Page
			w2.Fill(pfns[steps], &p)
			if err := m.WritePage(pfns[steps], &p); err != nil {
				t.Fatal(err)
			}
		}
		steps++
	}
	if _, err := w2.Run(m); err != nil { // the rest of w2
		t.Fatal(err)
	}
	if steps != 14 { // ceil(1280/97)
		t.Fatalf("%d steps", steps)
	}
	if got := kinds(m.Drain()); !reflect.DeepEqual(got, []EventKind{ResilverStarted, ResilverComplete, Redundant}) {
		t.Fatalf("events %v", got)
	}
	if m.Redundancy() != FullyRedundant {
		t.Fatal(m.Redundancy())
	}
	// Both sides now hold every byte: check each side on its own.
	for i := range 2 {
		verify(t, w, m.Side(i))
		verify(t, w2, m.Side(i))
	}
	// And a UE on the other side, found by the patrol scrub, now fails
	// over to the re-silvered one.
	if err := m.InjectUE(1, 5); err != nil {
		t.Fatal(err)
	}
	m.Scrub()
	verify(t, w, m)
	if m.State(1) != Failed || m.State(0) != Active {
		t.Fatal("no failover to the re-silvered side")
	}
}

func pfnList(w pages.Workload) []uint64 {
	var out []uint64
	for p := range w.PFNs() {
		out = append(out, p)
	}
	return out
}

func TestFatalUEWithoutRedundancy(t *testing.T) {
	m, _ := New(side, side)
	w := workload(3)
	if _, err := w.Run(m); err != nil {
		t.Fatal(err)
	}
	m.Fail(1)
	if got := kinds(m.Drain()); !reflect.DeepEqual(got, []EventKind{Failover, LostRedundancy}) {
		t.Fatalf("fail events %v", got)
	}
	if err := m.InjectUE(0, 7); err != nil {
		t.Fatal(err)
	}
	_, err := w.Verify(m)
	if !errors.Is(err, ErrDataLoss) {
		t.Fatalf("UE without redundancy not reported: %v", err)
	}
	if got := kinds(m.Drain()); !reflect.DeepEqual(got, []EventKind{UncorrectableError, DataLoss}) {
		t.Fatalf("events %v", got)
	}
	if m.Redundancy() != DataLost || m.State(0) != Active {
		t.Fatal("last side disabled or loss hidden")
	}
	// Other pages still read; the lost one keeps failing until rewritten.
	var p pages.Page
	if err := m.ReadPage(8, &p); err != nil {
		t.Fatal(err)
	}
	if err := m.ReadPage(7, &p); !errors.Is(err, ErrDataLoss) {
		t.Fatal(err)
	}
	w.Fill(7, &p)
	if err := m.WritePage(7, &p); err != nil {
		t.Fatal(err)
	}
	verify(t, w, m)
	if m.Redundancy() != RedundancyLost {
		t.Fatal(m.Redundancy())
	}
}

func TestSameLineBothSides(t *testing.T) {
	m, _ := New(side, side)
	w := workload(4)
	if _, err := w.Run(m); err != nil {
		t.Fatal(err)
	}
	_ = m.InjectUE(0, 9)
	_ = m.InjectUE(1, 9)
	var p pages.Page
	if err := m.ReadPage(9, &p); !errors.Is(err, ErrDataLoss) {
		t.Fatal(err)
	}
	if got := kinds(m.Drain()); !reflect.DeepEqual(got, []EventKind{UncorrectableError, Failover, LostRedundancy, UncorrectableError, DataLoss}) {
		t.Fatalf("events %v", got)
	}
}

func TestScrubFindsLatentUE(t *testing.T) {
	m, _ := New(side, side)
	_, _ = workload(5).Run(m)
	_ = m.InjectUE(1, 3)
	_ = m.InjectUE(1, 2)
	if n := m.Scrub(); n != 2 {
		t.Fatalf("scrub found %d", n)
	}
	if m.State(1) != Failed || m.Redundancy() != RedundancyLost {
		t.Fatal("latent UE not acted on")
	}
	if got := m.Drain(); len(got) != 3 || got[0].PFN != 2 {
		t.Fatalf("events %+v", got)
	}
	// A poisoned page on the last copy is lost, reported.
	_ = m.InjectUE(0, 4)
	m.Scrub()
	if got := kinds(m.Drain()); !reflect.DeepEqual(got, []EventKind{UncorrectableError, DataLoss}) || m.Redundancy() != DataLost {
		t.Fatalf("events %v", got)
	}
}

// Property: under a single-fault discipline (a UE or a failure only while
// fully redundant, after a patrol scrub found no latent UE) a random sequence of writes, UEs, failures, replaces,
// partial re-silvers and scrubs never loses or corrupts a byte.
func TestPropertySingleFaultNeverLosesData(t *testing.T) {
	const npages = 256
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 99))
		m, _ := New(npages*pages.PageSize, npages*pages.PageSize)
		ref := map[uint64]uint64{} // pfn -> pattern seed
		var p pages.Page
		for range 2000 {
			switch op := r.IntN(10); {
			case op < 5:
				pfn, s := r.Uint64N(npages), r.Uint64()
				pages.Pattern{Seed: s}.Fill(pfn, &p)
				if err := m.WritePage(pfn, &p); err != nil {
					t.Fatal(err)
				}
				ref[pfn] = s
			case op == 5 && m.Scrub() == 0 && m.Redundancy() == FullyRedundant:
				_ = m.InjectUE(r.IntN(2), r.Uint64N(npages))
			case op == 6 && m.Scrub() == 0 && m.Redundancy() == FullyRedundant:
				m.Fail(r.IntN(2))
			case op == 7:
				for i := range 2 {
					if m.State(i) == Failed {
						if err := m.Replace(i, npages*pages.PageSize); err != nil {
							t.Fatal(err)
						}
					}
				}
				_, _ = m.Resilver(1 + r.IntN(64))
			case op == 8:
				m.Scrub()
			default:
				pfn := r.Uint64N(npages)
				if err := m.ReadPage(pfn, &p); err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				var want pages.Page
				if s, ok := ref[pfn]; ok {
					pages.Pattern{Seed: s}.Fill(pfn, &want)
				}
				if p != want {
					t.Fatalf("seed %d: pfn %d corrupted", seed, pfn)
				}
			}
		}
		seen := map[EventKind]int{}
		for _, e := range m.Drain() {
			if e.Kind == DataLoss {
				t.Fatalf("seed %d: data loss %+v", seed, e)
			}
			seen[e.Kind]++
		}
		if seen[LostRedundancy] == 0 || seen[ResilverComplete] == 0 {
			t.Fatalf("seed %d exercised too little: %v", seed, seen)
		}
	}
}

func TestBothSidesFailed(t *testing.T) {
	m, _ := New(side, side)
	w := workload(6)
	_, _ = w.Run(m)
	m.Fail(0)
	m.Fail(1)
	if got := kinds(m.Drain()); !reflect.DeepEqual(got, []EventKind{Failover, LostRedundancy, DataLoss}) || m.Redundancy() != DataLost {
		t.Fatalf("events %v redundancy %v", got, m.Redundancy())
	}
	if _, err := w.Verify(m); !errors.Is(err, ErrDataLoss) {
		t.Fatal(err)
	}
	var p pages.Page
	if err := m.WritePage(0, &p); !errors.Is(err, ErrDataLoss) {
		t.Fatal(err)
	}
	if err := m.Replace(0, side); !errors.Is(err, ErrRefused) {
		t.Fatal(err)
	}
}

func TestGoodSideFailsDuringResilver(t *testing.T) {
	m, _ := New(side, side)
	_, _ = workload(7).Run(m)
	m.Fail(1)
	_ = m.Replace(1, side)
	_, _ = m.Resilver(10)
	m.Drain()
	m.Fail(0)
	if got := kinds(m.Drain()); !reflect.DeepEqual(got, []EventKind{DataLoss}) || m.Redundancy() != DataLost || m.State(1) != Failed {
		t.Fatalf("events %v", got)
	}
	var p pages.Page
	if err := m.ReadPage(0, &p); !errors.Is(err, ErrDataLoss) {
		t.Fatal("partial replacement served data")
	}
}

// The re-silvered side must end up holding exactly the good side's
// frames, byte for byte, whatever breaks the copy's runs: dense and
// strided pages, uneven steps, writes landing ahead of the copy (the
// replacement then holds them out of order) and a poisoned page on the
// good side, which is lost and reported, not copied.
func TestResilverCopiesEveryByte(t *testing.T) {
	m, _ := New(side, side)
	dense := pages.Workload{Pattern: pages.Pattern{Seed: 21}, Ranges: []pages.Range{{Base: 0, Length: 6 << 20}}}
	sparse := pages.Workload{Pattern: pages.Pattern{Seed: 22}, Ranges: []pages.Range{{Base: 8 << 20, Length: 40 << 20}}, Stride: 5}
	for _, w := range []pages.Workload{dense, sparse} {
		if _, err := w.Run(m); err != nil {
			t.Fatal(err)
		}
	}
	m.Fail(1)
	// The replacement reuses the failed board's memory, which still holds
	// the same data: scramble it, so a page the re-silver fails to copy
	// cannot pass for copied.
	pages.Scramble(m.Side(1))
	if err := m.Replace(1, side); err != nil {
		t.Fatal(err)
	}
	const bad = 1000 // in the dense range, copied in the second step
	if err := m.InjectUE(0, bad); err != nil {
		t.Fatal(err)
	}
	// Over dense pages still to be copied, and into the gap before the
	// strided range.
	ahead := pages.Workload{Pattern: pages.Pattern{Seed: 23}, Ranges: []pages.Range{{Base: 3 << 20, Length: 64 << 10}, {Base: 7 << 20, Length: 16 << 10}}}
	kept := dense // the dense pages ahead did not overwrite
	kept.Ranges = []pages.Range{{Base: 0, Length: 3 << 20}, {Base: 3<<20 + 64<<10, Length: 3<<20 - 64<<10}}
	var p pages.Page
	for i, step := 0, []int{3, 900, 1, 4000, 17}; ; i++ {
		done, err := m.Resilver(step[i%len(step)])
		if err != nil {
			t.Fatal(err)
		}
		if done {
			break
		}
		if i == 0 { // rewrite pages the copy has not reached yet
			if _, err := ahead.Run(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	var lost []uint64
	for _, e := range m.Drain() {
		if e.Kind == DataLoss {
			lost = append(lost, e.PFN)
		}
	}
	if !reflect.DeepEqual(lost, []uint64{bad}) {
		t.Fatalf("lost %v, want [%d]", lost, bad)
	}
	// Exactly the poisoned frame is missing from the replacement.
	if pfn, differ := m.Side(1).Diff(m.Side(0)); !differ || pfn != bad || m.Side(1).Has(bad) {
		t.Fatalf("first difference at %d (differ=%v), want only the lost page %d", pfn, differ, bad)
	}
	dense.Fill(bad, &p)
	if err := m.WritePage(bad, &p); err != nil { // rewriting heals it
		t.Fatal(err)
	}
	if pfn, differ := m.Side(1).Diff(m.Side(0)); differ {
		t.Fatalf("sides differ at %d", pfn)
	}
	for i := range 2 {
		for _, w := range []pages.Workload{kept, sparse, ahead} {
			verify(t, w, m.Side(i))
		}
	}
}
