// Package raid5 is RAID5 memory across five cartridges (memory boards,
// IPMI entity 0x08): each stripe holds four data units and one parity
// unit, parity rotating over the cartridges (left-symmetric), with a stripe
// unit of one 4 KiB page. Usable capacity is 4/5 of the raw. One whole
// cartridge may fail or be removed (degraded mode: its data is
// reconstructed from parity on every read); a replacement inserted into the
// same slot is rebuilt; a second loss while degraded or rebuilding is
// fatal and reported, never silent corruption.
package raid5

import "github.com/bmcemu/bmcemu/platform/ras/pages"

// Geometry.
const (
	Cartridges = 5
	DataUnits  = Cartridges - 1 // per stripe
	// Unit is the stripe unit: one page.
	Unit = pages.PageSize
)

// Usable is the OS-visible capacity of an array of five cartridges of
// cartridge bytes each: 4/5 of the raw.
func Usable(cartridge uint64) uint64 { return DataUnits * cartridge }

// Raw is the installed capacity of five cartridges.
func Raw(cartridge uint64) uint64 { return Cartridges * cartridge }

// ParityOf is the cartridge holding stripe s's parity: it rotates from
// the last cartridge down.
func ParityOf(stripe uint64) int { return DataUnits - int(stripe%Cartridges) }

// Locate maps an array page frame to its cartridge and stripe (the stripe
// number is also the page frame within the cartridge). Data unit k of a
// stripe sits on the cartridge after the parity, wrapping
// (left-symmetric), so consecutive pages walk all five cartridges.
func Locate(pfn uint64) (cartridge int, stripe uint64) {
	stripe = pfn / DataUnits
	k := int(pfn % DataUnits)
	return (ParityOf(stripe) + 1 + k) % Cartridges, stripe
}

// Logical is the inverse of Locate: the array page frame stored on
// cartridge c in stripe s, or parity=true when c holds the stripe's parity.
func Logical(c int, stripe uint64) (pfn uint64, parity bool) {
	p := ParityOf(stripe)
	if c == p {
		return 0, true
	}
	k := (c - p - 1 + Cartridges) % Cartridges
	return stripe*DataUnits + uint64(k), false
}
