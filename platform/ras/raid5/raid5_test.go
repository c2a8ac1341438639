package raid5

import (
	"crypto/subtle"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/bmcemu/bmcemu/platform/ras/pages"
)

const cart = 16 << 20 // 16 MiB cartridges in tests: 64 MiB usable

func kinds(evs []Event) []EventKind {
	var out []EventKind
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

func verify(t *testing.T, w pages.Workload, r pages.PageReader) {
	t.Helper()
	rep, err := w.Verify(r)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", rep.Mismatch, err)
	}
}

// parityConsistent checks that every stripe's five units XOR to zero.
func parityConsistent(t *testing.T, a *Array) {
	t.Helper()
	for s := range a.cart / Unit {
		var x pages.Page
		for c := range a.carts {
			if p := a.carts[c].Page(s); p != nil {
				subtle.XORBytes(x[:], x[:], p[:])
			}
		}
		if x != (pages.Page{}) {
			t.Fatalf("stripe %d parity inconsistent", s)
		}
	}
}

func TestLayout(t *testing.T) {
	for s := range uint64(10) {
		used := map[int]bool{ParityOf(s): true}
		for k := range uint64(DataUnits) {
			pfn := s*DataUnits + k
			c, st := Locate(pfn)
			if st != s || used[c] {
				t.Fatalf("pfn %d -> cartridge %d stripe %d (used %v)", pfn, c, st, used)
			}
			used[c] = true
			if back, parity := Logical(c, s); parity || back != pfn {
				t.Fatalf("Logical(%d,%d) = %d,%v", c, s, back, parity)
			}
		}
		if _, parity := Logical(ParityOf(s), s); !parity {
			t.Fatal("parity not found")
		}
	}
	// Parity visits every cartridge once per five stripes.
	seen := map[int]bool{}
	for s := range uint64(Cartridges) {
		seen[ParityOf(s)] = true
	}
	if len(seen) != Cartridges {
		t.Fatal("parity does not rotate")
	}
}

func FuzzLayout(f *testing.F) {
	f.Add(uint64(0))
	f.Add(uint64(1<<40 + 3))
	f.Fuzz(func(t *testing.T, pfn uint64) {
		pfn %= 1 << 52
		c, s := Locate(pfn)
		if c < 0 || c >= Cartridges || c == ParityOf(s) {
			t.Fatalf("pfn %d on cartridge %d (parity %d)", pfn, c, ParityOf(s))
		}
		if back, parity := Logical(c, s); parity || back != pfn {
			t.Fatalf("round trip %d -> (%d,%d) -> %d", pfn, c, s, back)
		}
	})
}

func TestCapacity(t *testing.T) {
	const gib = 1 << 30
	if Usable(64*gib) != 256*gib || Raw(64*gib) != 320*gib || Usable(64*gib)*5 != Raw(64*gib)*4 {
		t.Fatal("capacity")
	}
	a, err := New(cart)
	if err != nil || a.Size() != 4*cart {
		t.Fatal(err)
	}
	var p pages.Page
	if err := a.WritePage(4*cart/Unit, &p); !errors.Is(err, ErrOutOfRange) {
		t.Fatal(err)
	}
	if err := a.WritePage(4*cart/Unit-1, &p); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cart + 1); err == nil {
		t.Fatal("unaligned cartridge accepted")
	}
}

func wl(seed, base, length uint64) pages.Workload {
	return pages.Workload{Pattern: pages.Pattern{Seed: seed}, Ranges: []pages.Range{{Base: base, Length: length}}}
}

func TestCartridgeLossDegradedRebuild(t *testing.T) {
	a, _ := New(cart)
	w := wl(1, 0, 8<<20)
	if _, err := w.Run(a); err != nil {
		t.Fatal(err)
	}
	parityConsistent(t, a)
	verify(t, w, a)
	// Remove cartridge 2: degraded, every byte still reads.
	a.Fail(2)
	if got := kinds(a.Drain()); !reflect.DeepEqual(got, []EventKind{CartridgeFailed, RedundancyDegraded}) || a.State() != Degraded {
		t.Fatalf("events %v state %v", got, a.State())
	}
	verify(t, w, a)
	// Writes continue while degraded (including units on the lost board).
	w2 := wl(2, 20<<20, 2<<20)
	if _, err := w2.Run(a); err != nil {
		t.Fatal(err)
	}
	verify(t, w2, a)
	// Refusals with reasons.
	if err := a.Replace(3, cart); !errors.Is(err, ErrRefused) {
		t.Fatal(err)
	}
	if err := a.Replace(2, cart/2); !errors.Is(err, ErrRefused) {
		t.Fatal(err)
	}
	if _, err := a.Rebuild(0); !errors.Is(err, ErrNoRebuild) {
		t.Fatal(err)
	}
	// Replace and rebuild in steps while a third workload writes.
	if err := a.Replace(2, cart); err != nil {
		t.Fatal(err)
	}
	if a.State() != Rebuild || a.Replace(2, cart) == nil {
		t.Fatal("rebuild state / second replace")
	}
	w3 := wl(3, 40<<20, 1<<20)
	var pfns []uint64
	for p := range w3.PFNs() {
		pfns = append(pfns, p)
	}
	var page pages.Page
	for i := 0; ; i++ {
		done, err := a.Rebuild(37)
		if err != nil {
			t.Fatal(err)
		}
		if i < len(pfns) {
			w3.Fill(pfns[i], &page)
			if err := a.WritePage(pfns[i], &page); err != nil {
				t.Fatal(err)
			}
		}
		if i%10 == 0 { // reads mid-rebuild are exact too
			verify(t, w, a)
		}
		if done {
			break
		}
	}
	if _, err := w3.Run(a); err != nil {
		t.Fatal(err)
	}
	got := kinds(a.Drain())
	if !reflect.DeepEqual(got, []EventKind{RebuildStarted, RebuildComplete, FullyRedundant}) || a.State() != Optimal {
		t.Fatalf("events %v state %v", got, a.State())
	}
	parityConsistent(t, a)
	for _, x := range []pages.Workload{w, w2, w3} {
		verify(t, x, a)
	}
	// The rebuilt board carries real data: lose another one and read.
	a.Fail(4)
	for _, x := range []pages.Workload{w, w2, w3} {
		verify(t, x, a)
	}
}

func TestSecondLossIsFatal(t *testing.T) {
	for _, during := range []string{"degraded", "rebuilding"} {
		a, _ := New(cart)
		w := wl(4, 0, 4<<20)
		_, _ = w.Run(a)
		a.Fail(1)
		if during == "rebuilding" {
			if err := a.Replace(1, cart); err != nil {
				t.Fatal(err)
			}
			_, _ = a.Rebuild(10)
		}
		a.Drain()
		a.Fail(3)
		if got := kinds(a.Drain()); !reflect.DeepEqual(got, []EventKind{CartridgeFailed, ArrayFailed}) || a.State() != Fatal {
			t.Fatalf("%s: events %v state %v", during, got, a.State())
		}
		_, err := w.Verify(a)
		if !errors.Is(err, ErrDataLoss) {
			t.Fatalf("%s: second loss read: %v", during, err)
		}
		if evs := a.Drain(); len(evs) != 1 || evs[0].Kind != DataLoss {
			t.Fatalf("%s: events %+v", during, evs)
		}
		var p pages.Page
		if err := a.WritePage(0, &p); !errors.Is(err, ErrArrayFailed) {
			t.Fatalf("%s: write after failure: %v", during, err)
		}
		if err := a.Replace(3, cart); !errors.Is(err, ErrArrayFailed) {
			t.Fatalf("%s: replace after failure: %v", during, err)
		}
		// Units on surviving boards are still exact; lost ones error, never
		// return bytes.
		bad := 0
		for pfn := range w.PFNs() {
			if err := a.ReadPage(pfn, &p); err != nil {
				bad++
				continue
			}
			var want pages.Page
			w.Fill(pfn, &want)
			if p != want {
				t.Fatalf("%s: pfn %d silently corrupted", during, pfn)
			}
		}
		if bad == 0 {
			t.Fatalf("%s: nothing reported lost", during)
		}
	}
}

func TestReplacementFailsDuringRebuild(t *testing.T) {
	a, _ := New(cart)
	w := wl(5, 0, 4<<20)
	_, _ = w.Run(a)
	a.Fail(0)
	_ = a.Replace(0, cart)
	_, _ = a.Rebuild(5)
	a.Drain()
	a.Fail(0)
	if got := kinds(a.Drain()); !reflect.DeepEqual(got, []EventKind{CartridgeFailed, RebuildAborted}) || a.State() != Degraded {
		t.Fatalf("events %v state %v", got, a.State())
	}
	verify(t, w, a)
	if err := a.Replace(0, cart); err != nil {
		t.Fatal(err)
	}
	if done, err := a.Rebuild(0); !done || err != nil {
		t.Fatal(done, err)
	}
	parityConsistent(t, a)
	verify(t, w, a)
}

func TestUE(t *testing.T) {
	a, _ := New(cart)
	w := wl(6, 0, 1<<20)
	_, _ = w.Run(a)
	c, s := Locate(17)
	_ = a.InjectUE(c, s)
	verify(t, w, a)
	if got := a.Drain(); len(got) != 1 || got[0].Kind != CorrectedByParity || got[0].PFN != 17 {
		t.Fatalf("events %+v", got)
	}
	verify(t, w, a) // corrected in place: no second event
	if got := a.Drain(); len(got) != 0 {
		t.Fatalf("events %+v", got)
	}
	// A UE while degraded, in a stripe that needs it, is data loss.
	c2, _ := Locate(18) // same stripe, another board
	a.Fail(c2)
	_ = a.InjectUE(c, s)
	a.Drain()
	var p pages.Page
	if err := a.ReadPage(18, &p); !errors.Is(err, ErrDataLoss) {
		t.Fatal(err)
	}
	// A UE on a source during rebuild loses that stripe's units, reported.
	_ = a.Replace(c2, cart)
	if done, _ := a.Rebuild(0); !done {
		t.Fatal("rebuild")
	}
	lost := 0
	for _, e := range a.Drain() {
		if e.Kind == DataLoss {
			lost++
		}
	}
	if lost != 2 { // pfn 18 by the degraded read, 17 (the poisoned source) by the rebuild
		t.Fatalf("%d lost", lost)
	}
	if err := a.ReadPage(17, &p); !errors.Is(err, ErrDataLoss) {
		t.Fatal(err)
	}
	// Rewriting lost pages heals them.
	for _, pfn := range []uint64{17, 18} {
		w.Fill(pfn, &p)
		if err := a.WritePage(pfn, &p); err != nil {
			t.Fatal(err)
		}
	}
	verify(t, w, a)
}

// Property: with a single-fault discipline (one board out at a time, UEs
// only while optimal and each corrected by a read before the next fault),
// random writes, failures, replacements and partial rebuilds never lose
// or corrupt a byte, and parity is consistent whenever optimal.
func TestPropertySingleFault(t *testing.T) {
	const npages = 4 * 64
	const cartBytes = 64 * Unit
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 5))
		a, _ := New(cartBytes)
		ref := map[uint64]uint64{}
		var p, want pages.Page
		check := func(pfn uint64) {
			if err := a.ReadPage(pfn, &p); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			want = pages.Page{}
			if s, ok := ref[pfn]; ok {
				pages.Pattern{Seed: s}.Fill(pfn, &want)
			}
			if p != want {
				t.Fatalf("seed %d: pfn %d corrupted", seed, pfn)
			}
		}
		failures, rebuilds := 0, 0
		for range 1500 {
			switch op := r.IntN(10); {
			case op < 5:
				pfn, s := r.Uint64N(npages), r.Uint64()
				pages.Pattern{Seed: s}.Fill(pfn, &p)
				if err := a.WritePage(pfn, &p); err != nil {
					t.Fatal(err)
				}
				ref[pfn] = s
			case op == 5 && a.State() == Optimal:
				pfn := r.Uint64N(npages)
				c, s := Locate(pfn)
				_ = a.InjectUE(c, s)
				check(pfn) // corrected now
			case op == 6 && a.State() == Optimal:
				a.Fail(r.IntN(Cartridges))
				failures++
			case op == 7:
				for c := range Cartridges {
					if a.CartridgeState(c) == Failed {
						if err := a.Replace(c, cartBytes); err != nil {
							t.Fatal(err)
						}
					}
				}
				if done, _ := a.Rebuild(1 + r.IntN(20)); done {
					rebuilds++
				}
			default:
				check(r.Uint64N(npages))
			}
			if a.State() == Optimal && r.IntN(50) == 0 {
				for s := range uint64(cartBytes / Unit) {
					var x pages.Page
					for c := range a.carts {
						if q := a.carts[c].Page(s); q != nil {
							subtle.XORBytes(x[:], x[:], q[:])
						}
					}
					if x != (pages.Page{}) {
						t.Fatalf("seed %d: stripe %d parity", seed, s)
					}
				}
			}
		}
		for pfn := range uint64(npages) {
			check(pfn)
		}
		for _, e := range a.Drain() {
			if e.Kind == DataLoss || e.Kind == ArrayFailed {
				t.Fatalf("seed %d: %+v", seed, e)
			}
		}
		if failures == 0 || rebuilds == 0 {
			t.Fatalf("seed %d exercised too little: %d failures, %d rebuilds", seed, failures, rebuilds)
		}
	}
}

func TestUpgradeOneAtATime(t *testing.T) {
	a, _ := New(cart)
	w := wl(7, 0, 4*cart) // across the whole array, every 5th page
	w.Stride = 5
	if _, err := w.Run(a); err != nil {
		t.Fatal(err)
	}
	if err := a.Replace(0, cart); !errors.Is(err, ErrRefused) { // not failed
		t.Fatal(err)
	}
	for c := range Cartridges {
		a.Fail(c) // pull the board
		if err := a.Replace(c, cart/2); !errors.Is(err, ErrRefused) {
			t.Fatalf("smaller board accepted: %v", err)
		}
		if c > 0 {
			if err := a.Replace(c, 3*cart); !errors.Is(err, ErrRefused) {
				t.Fatalf("mismatched upgrade accepted: %v", err)
			}
		}
		if err := a.Replace(c, 2*cart); err != nil {
			t.Fatal(err)
		}
		if done, err := a.Rebuild(0); !done || err != nil {
			t.Fatal(done, err)
		}
		verify(t, w, a)
		evs := a.Drain()
		if c < Cartridges-1 {
			if a.Size() != 4*cart || evs[len(evs)-1].Kind != FullyRedundant {
				t.Fatalf("expanded early after board %d: %d %v", c, a.Size(), kinds(evs))
			}
			var p pages.Page
			if err := a.WritePage(4*cart/Unit, &p); !errors.Is(err, ErrOutOfRange) {
				t.Fatal("new range writable before all boards carry it")
			}
		} else if e := evs[len(evs)-1]; e.Kind != CapacityExpanded || e.Bytes != 8*cart || a.Size() != 8*cart {
			t.Fatalf("not expanded: %+v size %d", e, a.Size())
		}
	}
	parityConsistent(t, a)
	// The new half is usable and protected.
	w2 := wl(8, 4*cart, 4*cart)
	w2.Stride = 5
	if _, err := w2.Run(a); err != nil {
		t.Fatal(err)
	}
	a.Fail(3)
	verify(t, w, a)
	verify(t, w2, a)
}

// Every cartridge in turn is failed and rebuilt in uneven steps; every
// unit of the rebuilt board must read exactly as it did before, byte for
// byte: the run path (dense stripes, long runs), the per-stripe path
// (units never written, which read as zeros) and the seams between them
// all produce the bytes the failed board had. (A stripe whose unit on the
// board was never written is rebuilt as an explicit zero unit: same bytes.)
func TestRebuildRestoresEveryByte(t *testing.T) {
	a, _ := New(cart)
	dense := wl(11, 0, 3<<20)
	sparse := wl(12, 8<<20, 40<<20)
	sparse.Stride = 7
	for _, w := range []pages.Workload{dense, sparse} {
		if _, err := w.Run(a); err != nil {
			t.Fatal(err)
		}
	}
	for c := range Cartridges {
		before := a.Cartridge(c).Clone()
		a.Fail(c)
		pages.Scramble(a.Cartridge(c)) // its memory is reused: no stale data may pass
		if err := a.Replace(c, cart); err != nil {
			t.Fatal(err)
		}
		for i, step := 0, []int{1, 7, 300, 5, 2000}; ; i++ {
			done, err := a.Rebuild(step[i%len(step)])
			if err != nil {
				t.Fatal(err)
			}
			if done {
				break
			}
		}
		sameBytes(t, a.Cartridge(c), before)
		if got := kinds(a.Drain()); !reflect.DeepEqual(got, []EventKind{CartridgeFailed, RedundancyDegraded, RebuildStarted, RebuildComplete, FullyRedundant}) {
			t.Fatalf("cartridge %d: events %v", c, got)
		}
	}
	parityConsistent(t, a)
	verify(t, dense, a)
	verify(t, sparse, a)
}

// sameBytes fails unless every frame either store holds reads the same in
// both (a frame never written reads as zeros).
func sameBytes(t *testing.T, got, want *pages.Store) {
	t.Helper()
	var g, w pages.Page
	for _, s := range union([][]uint64{got.PFNs(), want.PFNs()}) {
		_ = got.ReadPage(s, &g)
		_ = want.ReadPage(s, &w)
		if g != w {
			t.Fatalf("stripe %d differs", s)
		}
	}
	if got.Len() < want.Len() {
		t.Fatalf("%d units, want at least %d", got.Len(), want.Len())
	}
}
