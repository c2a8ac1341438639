package kernel

import (
	"cmp"
	"fmt"
	"slices"
)

// AccessCoordinate is one access class of a node's performance attributes,
// /sys/devices/system/node/nodeN/accessC/initiators/{read,write}_{latency,
// bandwidth} (drivers/base/node.c, node_set_perf_attrs): latency in
// nanoseconds, bandwidth in MB/s. Firmware-described memory gets them from
// HMAT at boot; CXL memory gets them when its region comes online, from
// what the CXL driver computed along the path (cxl_region_perf_attrs_callback).
type AccessCoordinate struct {
	ReadLatency    uint64 `json:"read_latency"`
	WriteLatency   uint64 `json:"write_latency"`
	ReadBandwidth  uint64 `json:"read_bandwidth"`
	WriteBandwidth uint64 `json:"write_bandwidth"`
}

// Access classes: access0 is relative to the best initiator of any kind,
// access1 to the best CPU initiator (Documentation/admin-guide/mm/numaperf.rst).
const (
	Access0 = 0
	Access1 = 1
)

// SetNodeAccess is node_set_perf_attrs(): it records a node's access class
// coordinates. The node must be online.
func (k *Kernel) SetNodeAccess(nid, class int, c AccessCoordinate) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	pg := k.nodes[nid]
	if pg == nil {
		return kerr("node_set_perf_attrs", ENOENT, fmt.Sprintf("node %d is not online", nid))
	}
	if class != Access0 && class != Access1 {
		return kerr("node_set_perf_attrs", EINVAL, fmt.Sprintf("access class %d", class))
	}
	pg.access[class] = &c
	k.printk(KernInfo, "node %d: access%d initiators: read %d ns %d MB/s, write %d ns %d MB/s",
		nid, class, c.ReadLatency, c.ReadBandwidth, c.WriteLatency, c.WriteBandwidth)
	return nil
}

// AllocationRef names one live allocation: its first page frame, order,
// and whether it is movable (a user page) or the kernel's.
type AllocationRef struct {
	PFN     uint64 `json:"pfn"`
	Order   int    `json:"order"`
	Movable bool   `json:"movable"`
	Memmap  bool   `json:"memmap,omitempty"`
}

// AllocationsIn lists the live allocations whose first page lies in
// [start, start+size), in page order: what a device that vanished took
// with it (a surprise removal's memory_failure() targets).
func (k *Kernel) AllocationsIn(start, size uint64) []AllocationRef {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, e := start/PageSize, (start+size)/PageSize
	var out []AllocationRef
	for _, a := range k.allocs {
		if a.pfn >= s && a.pfn < e && a.kind != kindHWPoison {
			out = append(out, AllocationRef{PFN: a.pfn, Order: a.order, Movable: a.migratable(), Memmap: a.kind == kindMemmap})
		}
	}
	slices.SortFunc(out, func(a, b AllocationRef) int { return cmp.Compare(a.PFN, b.PFN) })
	return out
}
