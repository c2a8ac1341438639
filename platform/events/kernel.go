package events

// Facts from the in-band OS (platform/kernel driven by the platform's
// acpi_memhotplug adapter), published by the platform. Ranges are system
// physical addresses.

// KernelMemoryAdded: acpi_memhotplug added a memory device's range
// (add_memory) and auto-onlined its blocks per auto_online_blocks.
type KernelMemoryAdded struct {
	Slot   string `json:"slot"`
	Node   int    `json:"node"`
	Base   uint64 `json:"base"`
	Length uint64 `json:"length"`
	// Blocks is how many memory blocks the range became, Online how many
	// of them are online now.
	Blocks int `json:"blocks"`
	Online int `json:"online"`
	// MemmapBytes is the struct page array taken from free memory.
	MemmapBytes uint64 `json:"memmap_bytes"`
}

// KernelMemoryAddFailed: add_memory refused a device's range (ENOMEM when
// the memmap does not fit, EEXIST on a resource conflict...). The driver
// then reports _OST failure.
type KernelMemoryAddFailed struct {
	Slot   string `json:"slot"`
	Errno  string `json:"errno"`
	Reason string `json:"reason"`
}

// KernelMemoryRemoved: the range of a device being ejected was offlined and
// removed (remove_memory) before _EJ0.
type KernelMemoryRemoved struct {
	Slot   string `json:"slot"`
	Node   int    `json:"node"`
	Base   uint64 `json:"base"`
	Length uint64 `json:"length"`
	Blocks int    `json:"blocks"`
}

// KernelMemoryRemoveRefused: the OS could not offline a device's memory
// (unmovable pages: EBUSY) and answered the eject request with _OST
// "device in use"; the blocks it had offlined are back online.
type KernelMemoryRemoveRefused struct {
	Slot   string `json:"slot"`
	Block  int    `json:"block"` // the block that refused, -1 if none
	Errno  string `json:"errno"`
	Reason string `json:"reason"`
}

// MemoryBlockChanged: an operator onlined or offlined a memory block
// (echo online_movable > /sys/devices/system/memory/memoryN/state).
type MemoryBlockChanged struct {
	Block int    `json:"block"`
	Node  int    `json:"node"`
	State string `json:"state"`          // online | offline
	Zone  string `json:"zone,omitempty"` // zone of an online block
	Slot  string `json:"slot,omitempty"` // module whose hot-added range holds it
}

// KernelPagesMigrated: a hot-add took a memory controller out of its
// socket's interleave set (InterleaveChanged: Map Out bits set), and once
// the OS had added the new module's range it migrated movable pages out of
// the ranges whose decode changed into the new range, until the new range
// carried its proportional share of the node's movable load. Kernel pages
// cannot move and stay where they are.
type KernelPagesMigrated struct {
	Slot       string `json:"slot"` // the module that received the pages
	Node       int    `json:"node"`
	Socket     int    `json:"socket"`
	Controller int    `json:"controller"`
	// Pages moved (4 KiB), out of Target the balance asked for and
	// Movable found in the source ranges, in Allocations allocations.
	Pages       uint64 `json:"pages"`
	Target      uint64 `json:"target"`
	Movable     uint64 `json:"movable"`
	Allocations int    `json:"allocations"`
	// Unmovable counts pages of kernel allocations and memmap left in the
	// source ranges, Reserved their boot reservations (kernel image,
	// memmap, pglist_data).
	Unmovable uint64 `json:"unmovable"`
	Reserved  uint64 `json:"reserved"`
	Reason    string `json:"reason"`
}

func (KernelMemoryAdded) Kind() string         { return "KernelMemoryAdded" }
func (KernelMemoryAddFailed) Kind() string     { return "KernelMemoryAddFailed" }
func (KernelMemoryRemoved) Kind() string       { return "KernelMemoryRemoved" }
func (KernelMemoryRemoveRefused) Kind() string { return "KernelMemoryRemoveRefused" }
func (MemoryBlockChanged) Kind() string        { return "MemoryBlockChanged" }
func (KernelPagesMigrated) Kind() string       { return "KernelPagesMigrated" }

// GuestMemoryChanged: the hypervisor changed a VM guest's memory device
// (Device "virtio-mem", "balloon" or "pc-dimm"; Op what the operator
// asked) and the guest's driver answered. Bytes is the device's size after
// it (plugged-size, balloon size, DIMM size); Reason why the guest fell
// short, empty when it did all.
type GuestMemoryChanged struct {
	Device    string `json:"device"`
	ID        string `json:"id,omitempty"`
	Op        string `json:"op"`
	Requested uint64 `json:"requested"`
	Bytes     uint64 `json:"bytes"`
	Reason    string `json:"reason,omitempty"`
}

func (GuestMemoryChanged) Kind() string { return "GuestMemoryChanged" }
