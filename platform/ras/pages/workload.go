package pages

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
)

// Pattern is the deterministic contents generator: each 8-byte word of a
// page is a hash of the seed, the page frame number and the word index, so
// any page's expected bytes can be recomputed from (seed, pfn) alone and
// no two pages (nor two seeds) share contents in practice.
type Pattern struct {
	Seed uint64
}

// mix is the splitmix64 finalizer.
func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// Word is the 8-byte word i (0..511) of page pfn.
func (p Pattern) Word(pfn uint64, i int) uint64 {
	return mix(p.Seed ^ mix(pfn+0x9E3779B97F4A7C15)*0x9E3779B97F4A7C15 + uint64(i)*0xD1B54A32D192ED03)
}

// Fill writes page pfn's expected contents into dst.
func (p Pattern) Fill(pfn uint64, dst *Page) {
	base := p.Seed ^ mix(pfn+0x9E3779B97F4A7C15)*0x9E3779B97F4A7C15
	for i := 0; i < PageSize/8; i++ {
		binary.LittleEndian.PutUint64(dst[i*8:], mix(base+uint64(i)*0xD1B54A32D192ED03))
	}
}

// Range is a byte range of an address space. Workload ranges must be
// page-aligned.
type Range struct {
	Base   uint64
	Length uint64
}

// Workload writes Pattern into every Stride-th page of each range (Stride
// 0 or 1: every page) and knows which pages it wrote, so Verify needs no
// second copy of the data.
type Workload struct {
	Pattern
	Ranges []Range
	Stride uint64
}

// ErrUnaligned is returned for a workload range that is not page-aligned.
var ErrUnaligned = errors.New("pages: workload range not page-aligned")

func (w Workload) check() error {
	for _, r := range w.Ranges {
		if r.Base%PageSize != 0 || r.Length%PageSize != 0 {
			return fmt.Errorf("%w: [%#x, +%#x)", ErrUnaligned, r.Base, r.Length)
		}
	}
	return nil
}

// PFNs yields the page frames the workload writes, in range order.
func (w Workload) PFNs() iter.Seq[uint64] {
	stride := max(w.Stride, 1)
	return func(yield func(uint64) bool) {
		for _, r := range w.Ranges {
			first, n := r.Base>>PageShift, r.Length>>PageShift
			for i := uint64(0); i < n; i += stride {
				if !yield(first + i) {
					return
				}
			}
		}
	}
}

// Run writes every page of the workload to dst and returns the number of
// pages written. It stops at dst's first error.
func (w Workload) Run(dst PageWriter) (int, error) {
	if err := w.check(); err != nil {
		return 0, err
	}
	var buf Page
	n := 0
	for pfn := range w.PFNs() {
		w.Fill(pfn, &buf)
		if err := dst.WritePage(pfn, &buf); err != nil {
			return n, fmt.Errorf("pages: write pfn %#x: %w", pfn, err)
		}
		n++
	}
	return n, nil
}

// Mismatch is the first byte that read back different from the pattern.
type Mismatch struct {
	Addr     uint64 // byte address in the workload's address space
	Expected byte
	Got      byte
}

func (m *Mismatch) Error() string {
	return fmt.Sprintf("pages: data mismatch at %#x: expected %#02x, got %#02x", m.Addr, m.Expected, m.Got)
}

// Report is the outcome of a verification.
type Report struct {
	Pages    int       // pages read back and compared
	Mismatch *Mismatch // first wrong byte, nil when every byte matched
}

// OK reports whether every byte matched.
func (r Report) OK() bool { return r.Mismatch == nil }

// Verify reads every page of the workload back from src and compares it
// byte for byte with the pattern. A read error (data the engine reports
// lost) is returned as the error, with the page frame; a wrong byte is
// reported in Report.Mismatch, never hidden.
func (w Workload) Verify(src PageReader) (Report, error) {
	var rep Report
	if err := w.check(); err != nil {
		return rep, err
	}
	var want, got Page
	for pfn := range w.PFNs() {
		if err := src.ReadPage(pfn, &got); err != nil {
			return rep, fmt.Errorf("pages: read pfn %#x: %w", pfn, err)
		}
		rep.Pages++
		w.Fill(pfn, &want)
		if want != got {
			for i := range want {
				if want[i] != got[i] {
					rep.Mismatch = &Mismatch{Addr: pfn<<PageShift + uint64(i), Expected: want[i], Got: got[i]}
					return rep, nil
				}
			}
		}
	}
	return rep, nil
}
