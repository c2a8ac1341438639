package kernel

import (
	"fmt"
	"slices"
	"strings"
)

// Resource is a /proc/iomem entry with its children. End is inclusive, as
// /proc/iomem prints it.
type Resource struct {
	Start uint64 `json:"start"`
	End   uint64 `json:"end"`
	Name  string `json:"name"`
	// Busy resources (System RAM, reserved firmware ranges) cannot host
	// other requests; non-busy ones (PCI or CXL windows) can.
	Busy bool `json:"busy,omitempty"`
	// DriverManaged marks IORESOURCE_SYSRAM_DRIVER_MANAGED memory (kmem,
	// virtio-mem): kept out of /sys/firmware/memmap and kdump.
	DriverManaged bool `json:"driver_managed,omitempty"`
	// Driver marks a resource a driver requested (virtio-mem's device
	// region) rather than one the firmware described: it is not in the
	// e820 map or /sys/firmware/memmap.
	Driver   bool       `json:"driver,omitempty"`
	Children []Resource `json:"children,omitempty"`
}

type resFlags uint8

const (
	resBusy resFlags = 1 << iota
	resSysRAM
	resDriverManaged
)

type resource struct {
	start, end uint64
	name       string
	flags      resFlags
	parent     *resource
	children   []*resource // sorted by start, disjoint
}

func (r *resource) String() string {
	return fmt.Sprintf("[mem 0x%08x-0x%08x] %q", r.start, r.end, r.name)
}

// request is __request_region(): place [start, end] under r, descending
// into a non-busy resource that contains it. It returns the new resource,
// or the resource in the way.
func (r *resource) request(start, end uint64, name string, flags resFlags) (*resource, *resource) {
	p := r
	for {
		i, _ := slices.BinarySearchFunc(p.children, start, func(c *resource, s uint64) int {
			if c.end < s {
				return -1
			}
			return 1
		})
		if i < len(p.children) && p.children[i].start <= end {
			c := p.children[i]
			if c.start <= start && end <= c.end && c.flags&resBusy == 0 {
				p = c
				continue
			}
			return nil, c
		}
		n := &resource{start: start, end: end, name: name, flags: flags, parent: p}
		p.children = slices.Insert(p.children, i, n)
		return n, nil
	}
}

// mergeNeighbours merges child c with its adjacent siblings of the same
// name and flags that have no children (merge_system_ram_resource).
func (r *resource) mergeNeighbours(c *resource) {
	i := slices.Index(r.children, c)
	if i < 0 || len(c.children) > 0 {
		return
	}
	same := func(x *resource) bool { return x.name == c.name && x.flags == c.flags && len(x.children) == 0 }
	if i+1 < len(r.children) && r.children[i+1].start == c.end+1 && same(r.children[i+1]) {
		c.end = r.children[i+1].end
		r.children = slices.Delete(r.children, i+1, i+2)
	}
	if i > 0 && r.children[i-1].end+1 == c.start && same(r.children[i-1]) {
		r.children[i-1].end = c.end
		r.children = slices.Delete(r.children, i, i+1)
	}
}

func (r *resource) drop(c *resource) {
	r.children = slices.DeleteFunc(r.children, func(x *resource) bool { return x == c })
}

// find returns the deepest resource containing addr.
func (r *resource) find(addr uint64) *resource {
	var found *resource
	p := r
	for {
		next := (*resource)(nil)
		for _, c := range p.children {
			if c.start <= addr && addr <= c.end {
				next = c
				break
			}
		}
		if next == nil {
			return found
		}
		found, p = next, next
	}
}

// releaseAdjustable is release_mem_region_adjustable(): remove [start, end]
// from the System RAM resource holding it, trimming or splitting it.
func (r *resource) releaseAdjustable(start, end uint64) bool {
	p := r
	for {
		var c *resource
		for _, x := range p.children {
			if x.start <= start && end <= x.end {
				c = x
				break
			}
		}
		if c == nil {
			return false
		}
		if c.flags&resSysRAM == 0 {
			if c.flags&resBusy != 0 {
				return false
			}
			p = c
			continue
		}
		for _, ch := range c.children {
			if ch.start <= end && start <= ch.end {
				return false // kernel image or such inside
			}
		}
		switch {
		case c.start == start && c.end == end:
			p.drop(c)
		case c.start == start:
			c.start = end + 1
		case c.end == end:
			c.end = start - 1
		default:
			tail := &resource{start: end + 1, end: c.end, name: c.name, flags: c.flags, parent: p}
			c.end = start - 1
			for _, ch := range c.children {
				if ch.start > end {
					ch.parent = tail
					tail.children = append(tail.children, ch)
				}
			}
			c.children = slices.DeleteFunc(c.children, func(x *resource) bool { return x.start > end })
			i := slices.Index(p.children, c)
			p.children = slices.Insert(p.children, i+1, tail)
		}
		return true
	}
}

func (r *resource) export() Resource {
	out := Resource{Start: r.start, End: r.end, Name: r.name, Busy: r.flags&resBusy != 0, DriverManaged: r.flags&resDriverManaged != 0}
	for _, c := range r.children {
		out.Children = append(out.Children, c.export())
	}
	return out
}

// Iomem returns the /proc/iomem tree.
func (k *Kernel) Iomem() []Resource {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.iomem.export().Children
}

// IomemText formats the tree like /proc/iomem.
func (k *Kernel) IomemText() string {
	var b strings.Builder
	var walk func(rs []Resource, depth int)
	walk = func(rs []Resource, depth int) {
		for _, r := range rs {
			fmt.Fprintf(&b, "%s%08x-%08x : %s\n", strings.Repeat("  ", depth), r.Start, r.End, r.Name)
			walk(r.Children, depth+1)
		}
	}
	walk(k.Iomem(), 0)
	return b.String()
}

// RequestRegion is request_mem_region() for a driver: a non-busy resource
// (a CXL region, a dax device) nested inside whatever non-busy resource
// holds it, so the memory the driver adds later nests inside it in
// /proc/iomem. EBUSY names the resource in the way.
func (k *Kernel) RequestRegion(start, end uint64, name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if end < start {
		return kerr("request_mem_region", EINVAL, fmt.Sprintf("%s: end %#x before start %#x", name, end, start))
	}
	if _, conflict := k.iomem.request(start, end, name, 0); conflict != nil {
		return kerr("request_mem_region", EBUSY, fmt.Sprintf("%s [mem 0x%08x-0x%08x] conflicts with %s", name, start, end, conflict))
	}
	return nil
}

// ReleaseRegion is release_mem_region(): it removes the resource named name
// spanning exactly [start, end]; it must have no children left.
func (k *Kernel) ReleaseRegion(start, end uint64, name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var found *resource
	var walk func(r *resource)
	walk = func(r *resource) {
		for _, c := range r.children {
			if found != nil {
				return
			}
			if c.start == start && c.end == end && c.name == name {
				found = c
				return
			}
			if c.start <= start && end <= c.end {
				walk(c)
			}
		}
	}
	walk(k.iomem)
	if found == nil {
		return kerr("release_mem_region", ENOENT, fmt.Sprintf("no resource %s [mem 0x%08x-0x%08x]", name, start, end))
	}
	if len(found.children) > 0 {
		return kerr("release_mem_region", EBUSY, fmt.Sprintf("%s still holds %s", found, found.children[0]))
	}
	found.parent.drop(found)
	return nil
}
