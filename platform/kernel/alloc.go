package kernel

import (
	"fmt"
	"slices"
)

// Handle names an allocation. Movable allocations migrate when their block
// is offlined, so a workload holds a Handle (think: a virtual address)
// rather than a page frame number; PFN tells where it lives now.
type Handle uint64

type allocation struct {
	pfn   uint64
	order int
	kind  allocKind
	zone  *zone
	// unmanaged: a balloon page the driver took out of managed_pages.
	unmanaged bool
}

func (a *allocation) pages() uint64 { return 1 << a.order }

// migratable says offlining may move the allocation: user pages, and
// balloon pages through balloon compaction (balloon_page_migrate).
func (a *allocation) migratable() bool { return a.kind == kindMovable || a.kind == kindBalloon }

// Alloc allocates 1<<order pages (alloc_pages_node) preferring node nid
// (-1: node 0, the local node), falling back along the zonelist. Movable
// allocations (GFP_HIGHUSER_MOVABLE) may use ZONE_MOVABLE and migrate on
// offline; unmovable ones (GFP_KERNEL) pin their memory block. It fails
// with ENOMEM when no zone can serve the order above its min watermark.
func (k *Kernel) Alloc(nid, order int, movable bool) (Handle, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if order < 0 || order >= MaxOrder {
		return 0, kerr("alloc_pages", EINVAL, fmt.Sprintf("order %d out of range 0..%d", order, MaxOrder-1))
	}
	if nid == -1 && k.nodes[0] == nil && len(k.nodes) > 0 {
		nid = k.nodeIDs()[0]
	} else if nid == -1 {
		nid = 0
	}
	if k.nodes[nid] == nil {
		return 0, kerr("alloc_pages", EINVAL, fmt.Sprintf("node %d is not online", nid))
	}
	kind := kindUnmovable
	if movable {
		kind = kindMovable
	}
	h, ok := k.allocate(nid, order, kind)
	if !ok {
		mode := "0xcc0(GFP_KERNEL)"
		if movable {
			mode = "0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)"
		}
		msg := fmt.Sprintf("page allocation failure: order:%d, mode:%s, nodemask=(null)", order, mode)
		k.printk(KernWarning, "%s", msg)
		return 0, kerr("alloc_pages", ENOMEM, msg)
	}
	return h, nil
}

// Free frees an allocation (__free_pages): its pages coalesce with their
// free buddies.
func (k *Kernel) Free(h Handle) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	a := k.allocs[h]
	if a == nil || a.kind == kindMemmap || a.kind == kindHWPoison || a.kind == kindBalloon {
		return kerr("free_pages", ENOENT, fmt.Sprintf("no allocation %d", h))
	}
	k.release(h)
	return nil
}

// PFN reports where allocation h lives now, and on which node.
func (k *Kernel) PFN(h Handle) (pfn uint64, order, nid int, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	a := k.allocs[h]
	if a == nil {
		return 0, 0, 0, false
	}
	return a.pfn, a.order, a.zone.nid, true
}

func (k *Kernel) allocate(nid, order int, kind allocKind) (Handle, bool) {
	z, pfn, ok := k.rmqueue(nid, order, kind)
	if !ok {
		return 0, false
	}
	k.nextHandle++
	a := &allocation{pfn: pfn, order: order, kind: kind, zone: z}
	k.allocs[k.nextHandle] = a
	k.account(a)
	return k.nextHandle, true
}

func (k *Kernel) release(h Handle) {
	a := k.allocs[h]
	delete(k.allocs, h)
	k.unaccount(a)
	var before uint64
	if r := k.reporting; r != nil {
		before = a.zone.freeFromOrder(r.order)
	}
	a.zone.free.free(a.pfn, a.pfn+a.pages())
	k.requarantine(a.zone, a.pfn, a.pfn+a.pages())
	if r := k.reporting; r != nil && a.zone.freeFromOrder(r.order) > before {
		r.notify() // page_reporting_notify_free()
	}
}

// rmqueue walks nid's zonelist (nodes by distance, zones high to low) for
// a zone that keeps its min watermark after the allocation
// (zone_watermark_ok) and takes the block from its buddy. The pages are
// not yet accounted to anyone.
func (k *Kernel) rmqueue(nid, order int, kind allocKind) (*zone, uint64, bool) {
	return k.rmqueueNodes(k.fallback(nid), nil, order, kind)
}

// rmqueueNodes walks the zonelist order (node IDs) skipping nodes outside
// allowed (nil: every node), as cpuset_zone_allowed() filters
// get_page_from_freelist's walk.
func (k *Kernel) rmqueueNodes(order []int, allowed []int, pageOrder int, kind allocKind) (*zone, uint64, bool) {
	top := ZoneNormal
	if kind == kindMovable || kind == kindBalloon {
		top = ZoneMovable
	}
	n := uint64(1) << pageOrder
	for _, node := range order {
		if allowed != nil && !slices.Contains(allowed, node) {
			continue
		}
		pg := k.nodes[node]
		for zi := top; zi >= ZoneDMA; zi-- {
			z := &pg.zones[zi]
			if z.free.pages < n || z.free.pages-n < z.wmark[wmarkMin] {
				continue
			}
			if pfn, ok := z.free.alloc(pageOrder); ok {
				return z, pfn, true
			}
		}
	}
	return nil, 0, false
}

func (k *Kernel) account(a *allocation) {
	n := a.pages()
	a.zone.allocated[a.kind] += n
	// Offlining skips poisoned pages: they pin no block.
	if b := k.blocks[int(a.pfn/k.blockPages)]; b != nil && a.kind != kindHWPoison {
		if a.migratable() {
			b.movable += n
		} else {
			b.unmovable += n
		}
	}
}

func (k *Kernel) unaccount(a *allocation) {
	n := a.pages()
	a.zone.allocated[a.kind] -= n
	if b := k.blocks[int(a.pfn/k.blockPages)]; b != nil && a.kind != kindHWPoison {
		if a.migratable() {
			b.movable -= n
		} else {
			b.unmovable -= n
		}
	}
}

// kernelFree counts the pages kernel allocations could take on any node
// without crossing a min watermark.
func (k *Kernel) kernelFree() uint64 {
	var n uint64
	for _, pg := range k.nodes {
		for zi := ZoneDMA; zi <= ZoneNormal; zi++ {
			z := &pg.zones[zi]
			if z.free.pages > z.wmark[wmarkMin] {
				n += z.free.pages - z.wmark[wmarkMin]
			}
		}
	}
	return n
}
