package sparing

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/platform/ras/ecc"
	"github.com/bmcemu/bmcemu/platform/ras/pages"
)

const rankBytes = 8 << 20

// Two dual-rank DIMMs on channel A; the last rank is the spare.
var ranks = []Rank{{"P0_DIMM_A1", 0}, {"P0_DIMM_A1", 1}, {"P0_DIMM_A2", 0}, {"P0_DIMM_A2", 1}}

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

func newChannel(t *testing.T) *Channel {
	t.Helper()
	c, err := New(ranks, rankBytes, 3)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCapacityAndDecode(t *testing.T) {
	if Usable(4, 16<<30) != 48<<30 || Usable(1, 1) != 0 {
		t.Fatal("usable")
	}
	c := newChannel(t)
	if c.Size() != Usable(len(ranks), rankBytes) || c.Size() != 3*rankBytes {
		t.Fatal(c.Size())
	}
	if c.State(3) != Spare || c.State(0) != Active {
		t.Fatal("states")
	}
	if _, _, err := c.Decode(3 * rankBytes / pages.PageSize); !errors.Is(err, ErrOutOfRange) {
		t.Fatal("spare rank decodable")
	}
	if l, off, err := c.Decode(rankBytes/pages.PageSize + 5); err != nil || l != 1 || off != 5 || c.Physical(l) != 1 {
		t.Fatal(l, off, err)
	}
	for _, bad := range []struct {
		r     []Rank
		b     uint64
		spare int
	}{{ranks[:1], rankBytes, 0}, {ranks, rankBytes + 1, 0}, {ranks, rankBytes, 4}} {
		if _, err := New(bad.r, bad.b, bad.spare); err == nil {
			t.Fatalf("accepted %+v", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(uint64(0), uint8(3), uint8(2))
	f.Fuzz(func(t *testing.T, pfn uint64, n, spare uint8) {
		nr := 2 + int(n%6)
		rs := make([]Rank, nr)
		for i := range rs {
			rs[i] = Rank{"M", i}
		}
		c, err := New(rs, 4*pages.PageSize, int(spare)%nr)
		if err != nil {
			t.Fatal(err)
		}
		l, off, err := c.Decode(pfn)
		if pfn >= c.Size()/pages.PageSize {
			if err == nil {
				t.Fatal("out of range decoded")
			}
			return
		}
		if err != nil || off >= 4 || uint64(l)*4+off != pfn || c.State(c.Physical(l)) != Active {
			t.Fatalf("decode %d -> %d,%d,%v", pfn, l, off, err)
		}
	})
}

func TestCEStormSparesTheRank(t *testing.T) {
	c := newChannel(t)
	w := pages.Workload{Pattern: pages.Pattern{Seed: 1}, Ranges: []pages.Range{{Base: 0, Length: c.Size()}}, Stride: 3}
	if _, err := w.Run(c); err != nil {
		t.Fatal(err)
	}
	// A CE storm on physical rank 1 (P0_DIMM_A1 rank 1).
	m, _ := ecc.New(ecc.Config{Threshold: 5, Leak: 1, LeakInterval: time.Minute}, 42)
	if err := m.SetRate("P0_DIMM_A1", 1, ecc.Rate{CE: 2, Span: rankBytes}); err != nil {
		t.Fatal(err)
	}
	var trips int
	for s := 1; trips == 0; s++ {
		for _, e := range m.Advance(time.Duration(s) * time.Second) {
			if c.HandleECC(e) {
				trips++
			}
		}
	}
	if !c.Busy() || c.State(3) != Copying || !errors.Is(c.CanHotPlug(), ErrBusy) {
		t.Fatal("copy not started / hot-plug allowed")
	}
	if err := c.StartSpare(0); !errors.Is(err, ErrBusy) {
		t.Fatal(err)
	}
	// Trips meanwhile: the copying rank's own is absorbed, another's is
	// reported (the spare is taken).
	c.HandleECC(ecc.Event{Kind: ecc.ThresholdExceeded, Location: ecc.Location{Module: "P0_DIMM_A1", Rank: 1}})
	c.HandleECC(ecc.Event{Kind: ecc.ThresholdExceeded, Location: ecc.Location{Module: "P0_DIMM_A1", Rank: 0}})
	if evs := c.Drain(); len(evs) != 2 || evs[0].Kind != SpareCopyStarted || evs[1].Kind != SpareUnavailable || evs[1].Rank != ranks[0] {
		t.Fatalf("events %+v", evs)
	}
	// Copy in steps while a second workload writes into the failing rank.
	w2 := pages.Workload{Pattern: pages.Pattern{Seed: 2}, Ranges: []pages.Range{{Base: rankBytes + 2*pages.PageSize, Length: 64 * pages.PageSize}}, Stride: 3} // pages 1 mod 3: disjoint from w
	var pfns []uint64
	for p := range w2.PFNs() {
		pfns = append(pfns, p)
	}
	var pg pages.Page
	for i := 0; ; i++ {
		done, err := c.Copy(50)
		if err != nil {
			t.Fatal(err)
		}
		if i < len(pfns) {
			w2.Fill(pfns[i], &pg)
			_ = c.WritePage(pfns[i], &pg)
		}
		if done {
			break
		}
	}
	if _, err := w2.Run(c); err != nil {
		t.Fatal(err)
	}
	want := []Event{
		{Kind: SpareCopyComplete, Rank: ranks[1], Spare: ranks[3]},
		{Kind: ReplaceModule, Rank: ranks[1]},
	}
	got := c.Drain()
	if len(got) == 2 && got[0].Pages > c.Store(3).Len()/2 {
		got[0].Pages = 0
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events %+v", got)
	}
	if c.State(1) != MappedOut || c.State(3) != Active || c.Physical(1) != 3 || c.Busy() || c.CanHotPlug() != nil {
		t.Fatal("not remapped")
	}
	// Every byte reads back through the spare; wipe the mapped-out rank to
	// prove nothing still reads from it.
	c.Store(1).Reset()
	verify(t, w, c)
	verify(t, w2, c)
	if c.Size() != 3*rankBytes {
		t.Fatal("capacity changed")
	}
	// A second trip, on another rank, finds no spare: reported, no change.
	c.HandleECC(ecc.Event{Kind: ecc.ThresholdExceeded, Location: ecc.Location{Module: "P0_DIMM_A2", Rank: 0}})
	if got := kinds(c.Drain()); !reflect.DeepEqual(got, []EventKind{SpareUnavailable}) || c.Busy() {
		t.Fatalf("events %v", got)
	}
	// Other modules and non-trip events are not this channel's.
	if c.HandleECC(ecc.Event{Kind: ecc.ThresholdExceeded, Location: ecc.Location{Module: "P0_DIMM_B1"}}) ||
		c.HandleECC(ecc.Event{Kind: ecc.CorrectableError, Location: ecc.Location{Module: "P0_DIMM_A1"}}) {
		t.Fatal("foreign event handled")
	}
	// Replacing the mapped-out module restores a spare.
	if err := c.Replaced(0); !errors.Is(err, ErrRefused) {
		t.Fatal(err)
	}
	if err := c.Replaced(1); err != nil || c.State(1) != Spare {
		t.Fatal(err)
	}
	if err := c.StartSpare(0); err != nil {
		t.Fatal(err)
	}
	if done, _ := c.Copy(0); !done || c.Physical(0) != 1 {
		t.Fatal("second sparing")
	}
	verify(t, w, c)
}

func TestUENotProtected(t *testing.T) {
	c := newChannel(t)
	w := pages.Workload{Pattern: pages.Pattern{Seed: 3}, Ranges: []pages.Range{{Base: 0, Length: 2 * rankBytes}}, Stride: 7}
	_, _ = w.Run(c)
	_ = c.InjectUE(1, 10) // rank-local pfn 10 of physical rank 1 (channel pfn 2058, written by w)
	_, err := w.Verify(c)
	if !errors.Is(err, ErrDataLoss) {
		t.Fatalf("UE not reported: %v", err)
	}
	// The copy carries the poison: still reported after sparing.
	_ = c.StartSpare(1)
	_, _ = c.Copy(0)
	var p pages.Page
	if err := c.ReadPage(rankBytes/pages.PageSize+10, &p); !errors.Is(err, ErrDataLoss) {
		t.Fatalf("poison lost in the copy: %v", err)
	}
	w.Fill(rankBytes/pages.PageSize+10, &p)
	_ = c.WritePage(rankBytes/pages.PageSize+10, &p)
	verify(t, w, c)
}

// Property: random writes, trips on random ranks, partial copies and
// replacements never lose or corrupt a byte.
func TestPropertySparing(t *testing.T) {
	const rb = 32 * pages.PageSize
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 11))
		c, _ := New(ranks, rb, r.IntN(len(ranks)))
		npages := c.Size() / pages.PageSize
		ref := map[uint64]uint64{}
		var p, want pages.Page
		completed := 0
		for range 1500 {
			switch op := r.IntN(10); {
			case op < 5:
				pfn, s := r.Uint64N(npages), r.Uint64()
				pages.Pattern{Seed: s}.Fill(pfn, &p)
				_ = c.WritePage(pfn, &p)
				ref[pfn] = s
			case op == 5:
				rk := ranks[r.IntN(len(ranks))]
				c.HandleECC(ecc.Event{Kind: ecc.ThresholdExceeded, Location: ecc.Location{Module: rk.Module, Rank: rk.Rank}})
			case op == 6 && c.Busy():
				if done, _ := c.Copy(1 + r.IntN(10)); done {
					completed++
				}
			case op == 7:
				for i := range ranks {
					if c.State(i) == MappedOut {
						_ = c.Replaced(i)
					}
				}
			default:
				pfn := r.Uint64N(npages)
				if err := c.ReadPage(pfn, &p); err != nil {
					t.Fatal(err)
				}
				want = pages.Page{}
				if s, ok := ref[pfn]; ok {
					pages.Pattern{Seed: s}.Fill(pfn, &want)
				}
				if p != want {
					t.Fatalf("seed %d: pfn %d corrupted", seed, pfn)
				}
			}
			if c.Size() != uint64(len(ranks)-1)*rb {
				t.Fatal("capacity changed")
			}
		}
		if completed == 0 {
			t.Fatalf("seed %d: no sparing completed", seed)
		}
	}
}
