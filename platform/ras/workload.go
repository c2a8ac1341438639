package ras

import (
	"fmt"

	"github.com/bmcemu/bmcemu/platform/ras/pages"
)

// WorkloadStatus describes the pattern a workload wrote, enough to verify
// it later without a second copy of the data.
type WorkloadStatus struct {
	Seed   uint64        `json:"seed"`
	Pages  int           `json:"pages"`
	Stride uint64        `json:"stride"`
	Ranges []pages.Range `json:"ranges"`
}

// VerifyStatus is a full read-back: every page is read and compared, so a
// loss is counted, not just the first one found.
type VerifyStatus struct {
	Pages      int    `json:"pages"`       // pages read back
	Matched    int    `json:"matched"`     // byte-exact
	Lost       int    `json:"lost"`        // reported lost by the memory (no good copy)
	Mismatched int    `json:"mismatched"`  // read back wrong: silent corruption
	FirstError string `json:"first_error"` // the first loss or mismatch, empty when none
}

// OK reports whether every page came back byte for byte.
func (v VerifyStatus) OK() bool { return v.Pages > 0 && v.Matched == v.Pages }

// Verify reads every page of w back from src and compares it byte for
// byte with the pattern.
func Verify(w pages.Workload, src pages.PageReader) VerifyStatus {
	var vs VerifyStatus
	var want, got pages.Page
	for pfn := range w.PFNs() {
		vs.Pages++
		if err := src.ReadPage(pfn, &got); err != nil {
			vs.Lost++
			if vs.FirstError == "" {
				vs.FirstError = fmt.Sprintf("page %#x: %v", pfn<<pages.PageShift, err)
			}
			continue
		}
		w.Fill(pfn, &want)
		if want != got {
			vs.Mismatched++
			if vs.FirstError == "" {
				for i := range want {
					if want[i] != got[i] {
						vs.FirstError = fmt.Sprintf("byte %#x: expected %#02x, got %#02x", pfn<<pages.PageShift+uint64(i), want[i], got[i])
						break
					}
				}
			}
			continue
		}
		vs.Matched++
	}
	return vs
}
