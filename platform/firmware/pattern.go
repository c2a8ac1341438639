package firmware

import (
	"math/rand/v2"
)

// StuckAt is a data bit that reads back a fixed value over a region of a
// module (a failed DQ pin on one device, seen only where that device is
// selected).
type StuckAt struct {
	Offset uint64 `json:"offset"` // region start in the module's address space
	Length uint64 `json:"length"`
	Bit    int    `json:"bit"`   // data bit 0-63
	Value  int    `json:"value"` // 0 or 1
}

// newStuckAt derives a fault's location from the random stream: a bit, a
// value and a region of 1/16 of the module.
func newStuckAt(capacity uint64, r *rand.Rand) StuckAt {
	region := max(capacity/16, 64)
	n := capacity / region
	return StuckAt{Offset: uint64(r.IntN(int(max(n, 1)))) * region, Length: region, Bit: r.IntN(64), Value: r.IntN(2)}
}

func (s *StuckAt) apply(off uint64, v uint64) uint64 {
	if s == nil || off < s.Offset || off >= s.Offset+s.Length {
		return v
	}
	if s.Value == 1 {
		return v | 1<<s.Bit
	}
	return v &^ (1 << s.Bit)
}

// PatternResult is the outcome of a pattern test.
type PatternResult struct {
	Range    Range  `json:"range"`
	Samples  int    `json:"samples"`
	Patterns int    `json:"patterns"`
	Passed   bool   `json:"passed"`
	Address  uint64 `json:"address,omitempty"` // first failing system address
	Bit      int    `json:"bit,omitempty"`
	StuckAt  int    `json:"stuck_at,omitempty"`
	Expected uint64 `json:"expected,omitempty"`
	Got      uint64 `json:"got,omitempty"`
}

// patterns are the signatures written: solid zeros and ones, checkerboards,
// a walking one and address-in-address.
var patterns = []func(addr uint64, i int) uint64{
	func(uint64, int) uint64 { return 0 },
	func(uint64, int) uint64 { return ^uint64(0) },
	func(uint64, int) uint64 { return 0xAAAAAAAAAAAAAAAA },
	func(uint64, int) uint64 { return 0x5555555555555555 },
	func(_ uint64, i int) uint64 { return 1 << (i % 64) },
	func(a uint64, _ int) uint64 { return a },
}

// PatternSamples is how many 64-byte lines the pattern test touches: one per
// stride of the range, at a random line inside the stride, so any region of
// at least range/PatternSamples bytes is sampled.
const PatternSamples = 4096

// patternTest writes and reads back each signature at sampled lines of rng
// (a module mapped 1-way from offset 0), modelling stuck.
func patternTest(rng Range, r *rand.Rand, stuck *StuckAt) PatternResult {
	res := PatternResult{Range: rng, Patterns: len(patterns), Passed: true}
	stride := max(rng.Length/PatternSamples, 64)
	var offs []uint64
	for o := uint64(0); o < rng.Length; o += stride {
		lines := max(min(stride, rng.Length-o)/64, 1)
		offs = append(offs, o+uint64(r.Int64N(int64(lines)))*64)
	}
	res.Samples = len(offs)
	for _, p := range patterns {
		for i, off := range offs {
			addr := rng.Base + off
			want := p(addr, i)
			got := stuck.apply(off, want)
			if got != want {
				diff := got ^ want
				bit := 0
				for diff&1 == 0 {
					diff >>= 1
					bit++
				}
				res.Passed, res.Address, res.Bit, res.Expected, res.Got = false, addr, bit, want, got
				res.StuckAt = int(got >> bit & 1)
				return res
			}
		}
	}
	return res
}
