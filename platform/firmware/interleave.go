package firmware

import (
	"github.com/bmcemu/bmcemu/platform/spd"
)

// Interleave ways the memory controllers support, by DRAM generation.
//
// A socket's channels are striped together only in the way counts the
// decoders can express; a population that does not divide evenly is laid
// as several interleave sets, largest first (five channels: a 4-way and a
// 1-way set), as server firmware does rather than refusing to boot.
//
//   - DDR4 {1, 2, 3, 4, 6, 8}: Intel Skylake-SP/Cascade Lake-SP decode a
//     TAD rule to 1, 2, 4 or 8 targets (memory controllers) and, inside a
//     controller, 1 to 3 channels (TADCHNILVOFFSET skt_ways/chn_ways, read
//     by Linux's skx_edac as SKX_TAD_SKTWAYS and SKX_TAD_CHNWAYS), which on
//     two three-channel controllers gives 1, 2, 3, 4 and 6 ways; AMD EPYC
//     7002/7003 (Data Fabric 3) interleave 2, 4 or 8 channels or 6 (the
//     DF3_6CHAN mode of Linux's drivers/ras/amd/atl).
//   - DDR5 {1, 2, 3, 4, 6, 8, 12}: Intel Sapphire Rapids (10 nm decoders,
//     channel ways 1, 2, 3, 4, 8 per i10nm_edac) and AMD EPYC 9004/9005
//     (Data Fabric 4/4.5: NPS4/2/1 modes over 2, 3, 4, 6, 8 or 12 channels,
//     get_num_intlv_chan in drivers/ras/amd/atl/map.c). AMD also has 5- and
//     10-channel modes for parts with channels fused off; the model keeps to
//     the 2^n and 3*2^n family both vendors share, which is also what a CXL
//     fixed memory window may interleave (CEDT CFMWS: 1, 2, 4, 8, 16, 3, 6,
//     12 ways).
//
// Interleaving never crosses sockets here: each socket is its own NUMA
// node (one SRAT proximity domain per socket).
var interleaveWays = map[spd.DeviceType][]int{
	spd.DDR4: {8, 6, 4, 3, 2, 1},
	spd.DDR5: {12, 8, 6, 4, 3, 2, 1},
}

// InterleaveWays returns the channel interleave ways the memory controller
// supports for DRAM type t, largest first. Unknown types interleave in
// powers of two up to 8.
func InterleaveWays(t spd.DeviceType) []int {
	if w, ok := interleaveWays[t]; ok {
		return append([]int(nil), w...)
	}
	return []int{8, 4, 2, 1}
}

// splitWays cuts n like channels into interleave sets of the supported
// way counts, largest first: the greedy cut leaves the fewest sets for
// these families (every count up to twice the largest way is at most
// three sets).
func splitWays(n int, ways []int) []int {
	var out []int
	for n > 0 {
		for _, w := range ways {
			if w <= n {
				out = append(out, w)
				n -= w
				break
			}
		}
	}
	return out
}
