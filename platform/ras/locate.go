package ras

import (
	"errors"
	"fmt"
	"iter"

	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/ras/ecc"
	"github.com/bmcemu/bmcemu/platform/ras/pages"
)

// ModuleGeometry is what rank decoding needs of an installed module.
type ModuleGeometry struct {
	Capacity uint64 // bytes
	Ranks    int    // SPD ranks (>= 1)
}

// Locator decodes system physical addresses through the firmware's target
// address decoder onto modules, and within a module onto ranks: each rank
// holds a contiguous 1/Ranks of the module's own address space.
type Locator struct {
	TAD     *firmware.TAD
	Modules map[string]ModuleGeometry // by slot name
}

// ErrNotDecoded is returned for an address no rule (or no known module)
// decodes.
var ErrNotDecoded = errors.New("ras: address not decoded to a module")

// Locate returns the module, rank and module-relative address serving
// system address addr (an ecc.Location whose Addr is the DIMM address).
func (l Locator) Locate(addr uint64) (ecc.Location, error) {
	if l.TAD == nil {
		return ecc.Location{}, fmt.Errorf("%w: no decoder table", ErrNotDecoded)
	}
	slot, off, ok := l.TAD.Decode(addr)
	if !ok {
		return ecc.Location{}, fmt.Errorf("%w: %#x", ErrNotDecoded, addr)
	}
	g, ok := l.Modules[slot]
	if !ok || g.Ranks < 1 || off >= g.Capacity {
		return ecc.Location{}, fmt.Errorf("%w: %#x decodes to %s+%#x, geometry %+v", ErrNotDecoded, addr, slot, off, g)
	}
	return ecc.Location{Module: slot, Rank: int(off / (g.Capacity / uint64(g.Ranks))), Addr: off}, nil
}

// RankKey names a module's rank.
type RankKey struct {
	Module string
	Rank   int
}

// ByRank groups system page frames by the rank that holds them, so an
// error or a failure on a rank can be turned into the written pages it
// affects. A page must decode to a single rank (true for the firmware's
// 4 KiB interleave granularity).
func (l Locator) ByRank(pfns iter.Seq[uint64]) (map[RankKey][]uint64, error) {
	out := map[RankKey][]uint64{}
	for pfn := range pfns {
		first, err := l.Locate(pfn << pages.PageShift)
		if err != nil {
			return nil, err
		}
		last, err := l.Locate(pfn<<pages.PageShift + pages.PageSize - 1)
		if err != nil {
			return nil, err
		}
		if first.Module != last.Module || first.Rank != last.Rank {
			return nil, fmt.Errorf("ras: page %#x straddles %s/%d and %s/%d", pfn, first.Module, first.Rank, last.Module, last.Rank)
		}
		k := RankKey{first.Module, first.Rank}
		out[k] = append(out[k], pfn)
	}
	return out, nil
}
