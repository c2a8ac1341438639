package vm

import (
	"fmt"

	"github.com/bmcemu/bmcemu/platform/kernel"
)

// Geometry is what the comparison is computed from: the guest kernel's
// memory block and the devices' block sizes.
type Geometry struct {
	PageSize        uint64 `json:"page_size"`
	StructPageSize  uint64 `json:"struct_page_size"`
	MemoryBlockSize uint64 `json:"memory_block_size"`
	VirtioMemBlock  uint64 `json:"virtio_mem_block_size"`
	// DimmSize is the size of each pc-dimm the growth is made of; 0: one
	// DIMM of the whole growth.
	DimmSize uint64 `json:"dimm_size"`
}

// DefaultGeometry is an x86_64 guest with 128 MiB memory blocks and a
// virtio-mem device of the seed's 4 MiB blocks.
func DefaultGeometry() Geometry {
	return Geometry{PageSize: kernel.PageSize, StructPageSize: kernel.StructPageSize,
		MemoryBlockSize: kernel.MinMemoryBlockSize, VirtioMemBlock: MinVirtioMemBlockSize}
}

// Geometry returns the running guest's figures (the device's block size
// when it has a virtio-mem device, else the seed's 4 MiB).
func (g *Guest) Geometry() Geometry {
	geo := DefaultGeometry()
	geo.MemoryBlockSize = g.k.BlockSizeBytes()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.vmem != nil {
		geo.VirtioMemBlock = g.vmem.cfg.BlockSize
	}
	return geo
}

// Generation is one mechanism's row in the comparison.
type Generation struct {
	Mechanism string `json:"mechanism"`
	Year      int    `json:"year"`
	// Granularity is the smallest step the host can give or take.
	Granularity uint64 `json:"granularity"`
	// Steps is how many host requests the growth takes (device requests,
	// DIMMs, balloon buffers of 256 pages).
	Steps uint64 `json:"steps"`
	// MemoryBlocks are the memory block devices the guest creates.
	MemoryBlocks uint64 `json:"memory_blocks"`
	// MemmapBytes is the struct page array the growth costs the guest;
	// MemmapWhen says when it is paid.
	MemmapBytes uint64 `json:"memmap_bytes"`
	MemmapWhen  string `json:"memmap_when"`
	// FreeAtAdd is the free guest memory one add must find at once (the
	// memmap of the largest single add_memory call).
	FreeAtAdd uint64 `json:"free_at_add"`
	// Guest is what the guest sees.
	Guest string `json:"guest"`
	NUMA  string `json:"numa"`
	// GiveBack is what the host can take back later.
	GiveBack string `json:"give_back"`
}

// Comparison is the three generations for one growth.
type Comparison struct {
	Size        uint64       `json:"size"`
	Geometry    Geometry     `json:"geometry"`
	Generations []Generation `json:"generations"`
}

// Compare computes the growth of size bytes through each generation from
// geo. size must be a positive multiple of the memory block size, the
// only growth all three can make exactly.
func Compare(size uint64, geo Geometry) (Comparison, error) {
	if geo.PageSize == 0 || geo.StructPageSize == 0 || geo.MemoryBlockSize == 0 || geo.VirtioMemBlock == 0 {
		return Comparison{}, fmt.Errorf("compare: %w: incomplete geometry %+v", ErrInvalid, geo)
	}
	if size == 0 || size%geo.MemoryBlockSize != 0 {
		return Comparison{}, fmt.Errorf("compare: %w: size %s is not a positive multiple of the %s memory block", ErrInvalid, mib(size), mib(geo.MemoryBlockSize))
	}
	dimm := geo.DimmSize
	if dimm == 0 {
		dimm = size
	}
	if dimm%geo.MemoryBlockSize != 0 || size%dimm != 0 {
		return Comparison{}, fmt.Errorf("compare: %w: DIMMs of %s do not make %s in whole memory blocks", ErrInvalid, mib(dimm), mib(size))
	}
	// Big block mode (a device block larger than the memory block) adds
	// and gives back whole device blocks.
	bbm := geo.VirtioMemBlock > geo.MemoryBlockSize
	if bbm && size%geo.VirtioMemBlock != 0 {
		return Comparison{}, fmt.Errorf("compare: %w: size %s is not a multiple of the %s virtio-mem big block", ErrInvalid, mib(size), mib(geo.VirtioMemBlock))
	}
	memmap := func(n uint64) uint64 { return n / geo.PageSize * geo.StructPageSize }
	balloonBuf := uint64(1<<balloonOrder) * geo.PageSize
	blocks := size / geo.MemoryBlockSize
	vmem := Generation{
		Mechanism: "virtio-mem", Year: 2020, Granularity: geo.VirtioMemBlock,
		Steps: size / geo.VirtioMemBlock, MemoryBlocks: blocks,
		MemmapBytes: memmap(size), MemmapWhen: "at add_memory_driver_managed, one memory block at a time",
		FreeAtAdd: memmap(geo.MemoryBlockSize),
		Guest:     `"System RAM (virtio_mem)" (driver-managed: not in /sys/firmware/memmap, excluded from kdump); plugged_size grows by sub-blocks`,
		NUMA:      "the device's node",
		GiveBack:  fmt.Sprintf("any %s sub-block whose pages migrate", mib(geo.VirtioMemBlock)),
	}
	if bbm {
		n := geo.VirtioMemBlock / geo.MemoryBlockSize
		vmem.MemmapWhen = fmt.Sprintf("at add_memory_driver_managed, one big block (%d memory blocks) at a time", n)
		vmem.FreeAtAdd = memmap(geo.VirtioMemBlock)
		vmem.Guest = `"System RAM (virtio_mem)" (driver-managed: not in /sys/firmware/memmap, excluded from kdump); plugged_size grows by big blocks`
		vmem.GiveBack = fmt.Sprintf("a whole %s big block, only if all %d of its memory blocks offline", mib(geo.VirtioMemBlock), n)
	}
	c := Comparison{Size: size, Geometry: geo}
	c.Generations = []Generation{
		{
			Mechanism: "virtio-balloon", Year: 2008, Granularity: geo.PageSize,
			Steps:       (size + balloonBuf - 1) / balloonBuf,
			MemmapBytes: memmap(size), MemmapWhen: "at boot, for the whole maximum, even while the balloon holds it",
			FreeAtAdd: 0,
			Guest:     "MemTotal rises as the balloon deflates (without DEFLATE_ON_OOM); no new memory blocks, /proc/iomem and /sys/firmware/memmap unchanged",
			NUMA:      "none: the device counts pages, the guest gives any",
			GiveBack:  "any page, by inflating again",
		},
		{
			Mechanism: "pc-dimm (ACPI)", Year: 2015, Granularity: geo.MemoryBlockSize,
			Steps: size / dimm, MemoryBlocks: blocks,
			MemmapBytes: memmap(size), MemmapWhen: "at add_memory, for the whole DIMM in one call",
			FreeAtAdd: memmap(dimm),
			Guest:     `PNP0C80 devices; "System RAM" in /proc/iomem and /sys/firmware/memmap; memory blocks online per auto_online_blocks`,
			NUMA:      "_PXM of the DIMM's node",
			GiveBack:  "a whole DIMM, only if every block of it offlines",
		},
		vmem,
	}
	return c, nil
}
