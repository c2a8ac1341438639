package mirror

import (
	"errors"
	"reflect"
	"testing"

	"github.com/bmcemu/bmcemu/platform/ras/pages"
)

func TestRangedCapacity(t *testing.T) {
	const gib = 1 << 30
	if RangeUsable(256*gib, 32*gib) != 224*gib || RangeUsable(256*gib, 128*gib) != Usable(256*gib) || RangeUsable(10, 6) != 0 {
		t.Fatal("range usable")
	}
	for _, c := range [][3]uint64{{1 << 20, 1 << 19, 1 << 20}, {1 << 20, 1, 4096}, {1<<20 + 1, 0, 0}} {
		if _, err := NewRanged(c[0], c[1], c[2]); err == nil {
			t.Fatalf("accepted %v", c)
		}
	}
}

func TestRangedMirror(t *testing.T) {
	const size, base, mirrored = 16 << 20, 4 << 20, 2 << 20
	r, err := NewRanged(size, base, mirrored)
	if err != nil {
		t.Fatal(err)
	}
	w := pages.Workload{Pattern: pages.Pattern{Seed: 1}, Ranges: []pages.Range{{Base: 0, Length: size}}, Stride: 5}
	if _, err := w.Run(r); err != nil {
		t.Fatal(err)
	}
	if !r.Mirrored(base/pages.PageSize) || r.Mirrored(base/pages.PageSize-1) || r.Mirrored((base+mirrored)/pages.PageSize) {
		t.Fatal("range bounds")
	}
	// A UE in the mirrored range fails over; no data lost.
	mpfn := uint64(base/pages.PageSize + 6) // written: a multiple of the stride
	_ = r.InjectUE(0, mpfn)
	verify(t, w, r)
	if got := r.Drain(); !reflect.DeepEqual(kinds(got), []EventKind{UncorrectableError, Failover, LostRedundancy}) || got[0].PFN != mpfn {
		t.Fatalf("events %+v", got)
	}
	// Re-silver restores it.
	if err := r.Mirror().Replace(0, mirrored); err != nil {
		t.Fatal(err)
	}
	if done, _ := r.Mirror().Resilver(0); !done || r.Mirror().Redundancy() != FullyRedundant {
		t.Fatal("resilver")
	}
	r.Drain()
	// A UE outside it is data loss, reported.
	_ = r.InjectUE(0, 10)
	if _, err := w.Verify(r); !errors.Is(err, ErrDataLoss) {
		t.Fatalf("plain UE: %v", err)
	}
	if got := kinds(r.Drain()); !reflect.DeepEqual(got, []EventKind{UncorrectableError, DataLoss}) {
		t.Fatalf("events %v", got)
	}
	var p pages.Page
	w.Fill(10, &p)
	_ = r.WritePage(10, &p)
	verify(t, w, r)
	// No mirrored range: plain ECC.
	plain, _ := NewRanged(size, 0, 0)
	if plain.Mirror() != nil || plain.Mirrored(0) {
		t.Fatal("plain has a mirror")
	}
	_, _ = w.Run(plain)
	verify(t, w, plain)
	if err := plain.WritePage(size/pages.PageSize, &p); !errors.Is(err, ErrOutOfRange) {
		t.Fatal(err)
	}
}
