package kernel

import "fmt"

// Hardware memory errors (mm/memory-failure.c): a page the hardware reported
// uncorrectable gets PG_hwpoison, counts in HardwareCorrupted, and is handled
// according to who holds it. The model keeps the set of poisoned page frames;
// a poisoned page that was free (or is freed later) is held off the buddy
// as an order-0 allocation of kind kindHWPoison, so it is never handed out
// again and the books still balance. Like Linux, offlining skips poisoned
// pages (they do not pin a block); unlike the struct page flag, the model's
// poison survives an offline/online cycle, as the broken cell does, and is
// forgotten when the memory is removed.

// MemoryFailureResult is what memory_failure() logged for a page: the
// action_page_types name and the action_name of its result.
type MemoryFailureResult struct {
	PFN    uint64 `json:"pfn"`
	Page   string `json:"page"`   // "free buddy page", "dirty LRU page", "reserved kernel page", ...
	Result string `json:"result"` // "Recovered" or "Ignored"
}

// MemoryFailure is memory_failure(pfn, 0) as the machine-check code calls it
// for an uncorrectable error the hardware reported with a valid address (a
// patrol-scrub or a consumed poison): the page is marked and accounted, a
// free page leaves the buddy, and "Memory failure: <pfn>: recovery action
// for <page>: <result>" is logged. A page already poisoned, or a frame the
// kernel does not manage, is reported as Linux reports it, with EHWPOISON
// or ENXIO.
func (k *Kernel) MemoryFailure(pfn uint64) (MemoryFailureResult, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	const op = "memory_failure"
	res := MemoryFailureResult{PFN: pfn}
	if k.hwpoison[pfn] {
		msg := fmt.Sprintf("Memory failure: %#x: already hardware poisoned", pfn)
		k.printk(KernErr, "%s", msg)
		return res, kerr(op, EHWPOISON, msg)
	}
	z := k.zoneOfPFN(pfn)
	if z == nil {
		msg := fmt.Sprintf("Memory failure: %#x: memory outside kernel control", pfn)
		k.printk(KernErr, "%s", msg)
		return res, kerr(op, ENXIO, msg)
	}
	if k.hwpoison == nil {
		k.hwpoison = map[uint64]bool{}
	}
	k.hwpoison[pfn] = true
	res.Page, res.Result = "unknown page", "Ignored"
	switch a := k.allocAt(pfn); {
	case z.reserved.covers(pfn, pfn+1):
		res.Page = "reserved kernel page"
	case z.free.ext.covers(pfn, pfn+1):
		k.quarantine(z, pfn)
		res.Page, res.Result = "free buddy page", "Recovered"
	case a != nil && a.kind == kindMovable:
		// A user page: Linux unmaps it and its owner gets SIGBUS on the
		// next touch. The model has no processes; the page stays with
		// its allocation, poisoned.
		res.Page, res.Result = "dirty LRU page", "Recovered"
	case a != nil && a.order > 0:
		res.Page = "high-order kernel page"
	}
	msg := fmt.Sprintf("Memory failure: %#x: recovery action for %s: %s", pfn, res.Page, res.Result)
	k.printk(KernErr, "%s", msg)
	if res.Result != "Recovered" {
		return res, kerr(op, EBUSY, msg)
	}
	return res, nil
}

// zoneOfPFN is the online zone holding pfn (pfn_to_online_page), or nil.
func (k *Kernel) zoneOfPFN(pfn uint64) *zone {
	for _, pg := range k.nodes {
		for i := range pg.zones {
			if z := &pg.zones[i]; z.present.covers(pfn, pfn+1) {
				return z
			}
		}
	}
	return nil
}

// allocAt is the allocation holding pfn, or nil.
func (k *Kernel) allocAt(pfn uint64) *allocation {
	for _, a := range k.allocs {
		if pfn >= a.pfn && pfn < a.pfn+a.pages() {
			return a
		}
	}
	return nil
}

// quarantine takes free page pfn of z off the buddy for good.
func (k *Kernel) quarantine(z *zone, pfn uint64) {
	z.free.take(pfn, pfn+1)
	k.nextHandle++
	a := &allocation{pfn: pfn, kind: kindHWPoison, zone: z}
	k.allocs[k.nextHandle] = a
	k.account(a)
}

// requarantine takes the poisoned pages of [s, e) that just went back to
// z's buddy off it again: free_pages_prepare() refuses a PG_hwpoison page.
func (k *Kernel) requarantine(z *zone, s, e uint64) {
	for pfn := range k.hwpoison {
		if pfn >= s && pfn < e && z.free.ext.covers(pfn, pfn+1) {
			k.quarantine(z, pfn)
		}
	}
}

// poisonedIn lists the quarantined pages in [s, e) and counts them.
func (k *Kernel) poisonedIn(s, e uint64) ([]Handle, uint64) {
	var hs []Handle
	for h, a := range k.allocs {
		if a.kind == kindHWPoison && a.pfn >= s && a.pfn < e {
			hs = append(hs, h)
		}
	}
	return hs, uint64(len(hs))
}

// forgetPoison drops the poison of [s, e) when the memory is removed
// (clear_hwpoisoned_pages): HardwareCorrupted no longer counts it.
func (k *Kernel) forgetPoison(s, e uint64) {
	for pfn := range k.hwpoison {
		if pfn >= s && pfn < e {
			delete(k.hwpoison, pfn)
		}
	}
}
