package pages

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"
)

func TestStoreSparseReadWrite(t *testing.T) {
	s := New()
	var p Page
	if err := s.ReadPage(12345, &p); err != nil || p != (Page{}) {
		t.Fatalf("unwritten page: %v, nonzero=%v", err, p != (Page{}))
	}
	if s.Len() != 0 {
		t.Fatalf("read allocated: %d pages", s.Len())
	}
	// A write straddling two pages allocates exactly those two.
	b := []byte("hello, straddling world")
	addr := uint64(7*PageSize - 5)
	s.Write(addr, b)
	if s.Len() != 2 || !s.Has(6) || !s.Has(7) {
		t.Fatalf("pages = %v", s.PFNs())
	}
	got := make([]byte, len(b)+10)
	s.Read(addr-5, got)
	want := append(make([]byte, 5), b...)
	want = append(want, make([]byte, 5)...)
	if string(got) != string(want) {
		t.Fatalf("read %q want %q", got, want)
	}
	c := s.Clone()
	s.Write(addr, []byte("X"))
	c.Read(addr, got[:1])
	if got[0] != 'h' {
		t.Fatal("clone shares pages")
	}
	s.Delete(6)
	if s.Has(6) || s.Bytes() != PageSize {
		t.Fatal("delete")
	}
}

func TestPatternDeterministicAndDistinct(t *testing.T) {
	var a, b Page
	p := Pattern{Seed: 42}
	p.Fill(100, &a)
	p.Fill(100, &b)
	if a != b {
		t.Fatal("not deterministic")
	}
	for i := range PageSize / 8 {
		w := p.Word(100, i)
		for j := range 8 {
			if a[i*8+j] != byte(w>>(8*j)) {
				t.Fatalf("Word(%d) disagrees with Fill", i)
			}
		}
	}
	p.Fill(101, &b)
	if a == b {
		t.Fatal("adjacent pages equal")
	}
	Pattern{Seed: 43}.Fill(100, &b)
	if a == b {
		t.Fatal("seeds give the same page")
	}
}

func TestWorkloadVerify(t *testing.T) {
	w := Workload{Pattern: Pattern{Seed: 7}, Ranges: []Range{{0, 64 * PageSize}, {1 << 32, 16 * PageSize}}, Stride: 3}
	s := New()
	n, err := w.Run(s)
	if err != nil || n != 22+6 || s.Len() != n {
		t.Fatalf("run: n=%d len=%d err=%v", n, s.Len(), err)
	}
	rep, err := w.Verify(s)
	if err != nil || !rep.OK() || rep.Pages != n {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	// Flip one bit: the verifier names the exact byte.
	addr := uint64(1<<32 + 3*PageSize + 1234)
	var b [1]byte
	s.Read(addr, b[:])
	s.Write(addr, []byte{b[0] ^ 0x10})
	rep, err = w.Verify(s)
	if err != nil || rep.OK() {
		t.Fatalf("corruption not found: %+v %v", rep, err)
	}
	if m := rep.Mismatch; m.Addr != addr || m.Expected != b[0] || m.Got != b[0]^0x10 {
		t.Fatalf("mismatch %+v, want addr %#x expected %#x", m, addr, b[0])
	}
	if _, err := (Workload{Ranges: []Range{{1, PageSize}}}).Run(s); !errors.Is(err, ErrUnaligned) {
		t.Fatalf("unaligned: %v", err)
	}
}

type failing struct{ *Store }

var errLost = errors.New("lost")

func (failing) ReadPage(uint64, *Page) error { return errLost }

func TestVerifyReportsReadErrors(t *testing.T) {
	w := Workload{Pattern: Pattern{Seed: 1}, Ranges: []Range{{0, PageSize}}}
	if _, err := w.Verify(failing{New()}); !errors.Is(err, errLost) {
		t.Fatalf("err = %v", err)
	}
}

// Property: any sequence of random byte writes reads back like a flat
// reference buffer.
func TestStoreMatchesFlatReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const span = 16 * PageSize
	ref := make([]byte, span)
	s := New()
	for range 2000 {
		off := r.Uint64N(span - 1)
		n := 1 + r.Uint64N(min(3*PageSize, span-off))
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		s.Write(off, b)
		copy(ref[off:], b)
	}
	got := make([]byte, span)
	s.Read(0, got)
	if string(got) != string(ref) {
		t.Fatal("store diverged from reference")
	}
}

// BenchmarkStoreMemoryPerGiB writes 1 GiB of pattern pages and reports the
// heap the store holds per GiB of contents.
func BenchmarkStoreMemoryPerGiB(b *testing.B) {
	const gib = 1 << 30
	w := Workload{Pattern: Pattern{Seed: 9}, Ranges: []Range{{0, gib}}}
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s := New()
		if _, err := w.Run(s); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/gib, "heap-bytes/content-byte")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB/GiB")
		runtime.KeepAlive(s)
	}
	b.SetBytes(gib)
}

func BenchmarkVerify1GiB(b *testing.B) {
	const gib = 1 << 30
	w := Workload{Pattern: Pattern{Seed: 9}, Ranges: []Range{{0, gib}}}
	s := New()
	if _, err := w.Run(s); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(gib)
	for b.Loop() {
		if rep, err := w.Verify(s); err != nil || !rep.OK() {
			b.Fatal(rep, err)
		}
	}
}

func TestResetRecyclesZeroed(t *testing.T) {
	s := New()
	w := Workload{Pattern: Pattern{Seed: 3}, Ranges: []Range{{0, 200 * PageSize}}}
	if _, err := w.Run(s); err != nil {
		t.Fatal(err)
	}
	s.Reset()
	if s.Len() != 0 {
		t.Fatal("reset kept pages")
	}
	// Recycled pages read as zeros through every path.
	var p Page
	s.Write(5*PageSize+1, []byte{1})
	if err := s.ReadPage(5, &p); err != nil || p[0] != 0 || p[1] != 1 || p[2] != 0 {
		t.Fatal("recycled page not zeroed")
	}
	if s.Slot(9)[100] != 0 {
		t.Fatal("Slot returned dirty page")
	}
	s.Delete(9)
	if *s.Slot(10) != (Page{}) {
		t.Fatal("deleted page reused dirty")
	}
	rep, err := w.Verify(s)
	if err != nil || rep.OK() {
		t.Fatal("reset store still verifies")
	}
}
