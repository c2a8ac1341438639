package profile

import "fmt"

// Guest makes the server a virtual machine: the board is the guest's
// boot memory as the hypervisor presents it, the kernel probes like a
// guest (CPUID's hypervisor bit: 128 MiB memory blocks below 64 GiB of
// boot memory), and the memory devices below are what the operator drives
// through the hypervisor (`bmcemu ctl vm`). Any of the three may be
// present; the firmware places their address space above everything the
// board decodes, as QEMU places its device memory region.
type Guest struct {
	Kernel    GuestKernel     `yaml:"kernel"`
	VirtioMem *GuestVirtioMem `yaml:"virtio_mem"`
	Balloon   *GuestBalloon   `yaml:"balloon"`
	PCDimm    *GuestPCDimm    `yaml:"pc_dimm"`
}

// GuestKernel is the guest kernel's memory hot-plug command line.
type GuestKernel struct {
	// AutoOnlineBlocks is memhp_default_state= (auto_online_blocks):
	// online (default), online_kernel, online_movable or offline.
	AutoOnlineBlocks string `yaml:"auto_online_blocks" validate:"omitempty,oneof=online online_kernel online_movable offline"`
	// OnlinePolicy is memory_hotplug.online_policy.
	OnlinePolicy string `yaml:"online_policy" validate:"omitempty,oneof=contig-zones auto-movable"`
}

// GuestVirtioMem is a virtio-mem-pci device.
type GuestVirtioMem struct {
	Node int `yaml:"node" validate:"min=0,max=7"`
	// RegionSizeGiB is the device region (the memory backend's size):
	// the most the device can ever plug.
	RegionSizeGiB int `yaml:"region_size_gib" validate:"required,min=1,max=16384"`
	// BlockSizeMiB is the device block size: a power of two from 4 MiB
	// (the seed's minimum) that divides the region. Below the guest's
	// memory block (128 MiB) the driver runs in sub-block mode; from it
	// up, in big block mode, each device block a unit of one or more
	// memory blocks.
	BlockSizeMiB int `yaml:"block_size_mib" validate:"required,min=4,max=65536"`
	// RequestedSizeMiB is requested-size at start.
	RequestedSizeMiB int `yaml:"requested_size_mib" validate:"min=0"`
}

// GuestBalloon is a virtio-balloon-pci device.
type GuestBalloon struct {
	DeflateOnOOM      bool `yaml:"deflate_on_oom"`
	FreePageReporting bool `yaml:"free_page_reporting"`
}

// GuestPCDimm is QEMU's -m ...,slots=N,maxmem=M: the DIMM slots and the
// device memory region they are placed in.
type GuestPCDimm struct {
	Node          int `yaml:"node" validate:"min=0,max=7"`
	Slots         int `yaml:"slots" validate:"required,min=1,max=256"`
	RegionSizeGiB int `yaml:"region_size_gib" validate:"required,min=1,max=16384"`
}

// IsGuest reports whether the profile describes a VM guest.
func (p *Profile) IsGuest() bool { return p.Guest != nil }

func (p *Profile) validateGuest() error {
	g := p.Guest
	if g == nil {
		return nil
	}
	if v := g.VirtioMem; v != nil {
		if v.BlockSizeMiB&(v.BlockSizeMiB-1) != 0 {
			return p.FieldError("guest.virtio_mem.block_size_mib", fmt.Sprintf("%d MiB is not a power of two (4, 8, ... 65536)", v.BlockSizeMiB))
		}
		if (v.RegionSizeGiB<<10)%v.BlockSizeMiB != 0 {
			return p.FieldError("guest.virtio_mem.block_size_mib", fmt.Sprintf("%d MiB does not divide the %d GiB region (QEMU: the memory backend's size must be a multiple of block-size)", v.BlockSizeMiB, v.RegionSizeGiB))
		}
		if v.Node >= p.Memory.Sockets {
			return p.FieldError("guest.virtio_mem.node", fmt.Sprintf("node %d does not exist: the guest has %d node(s), one per socket", v.Node, p.Memory.Sockets))
		}
		if v.RequestedSizeMiB%v.BlockSizeMiB != 0 {
			return p.FieldError("guest.virtio_mem.requested_size_mib", fmt.Sprintf("%d MiB is not a multiple of the %d MiB block size", v.RequestedSizeMiB, v.BlockSizeMiB))
		}
		if v.RequestedSizeMiB > v.RegionSizeGiB<<10 {
			return p.FieldError("guest.virtio_mem.requested_size_mib", fmt.Sprintf("%d MiB exceeds the %d GiB region", v.RequestedSizeMiB, v.RegionSizeGiB))
		}
	}
	if d := g.PCDimm; d != nil && d.Node >= p.Memory.Sockets {
		return p.FieldError("guest.pc_dimm.node", fmt.Sprintf("node %d does not exist: the guest has %d node(s), one per socket", d.Node, p.Memory.Sockets))
	}
	return nil
}
