package platform

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/kernel"
)

// TestHotAddBreakingSymmetryMigratesPages: a workload runs on node 0, then
// a module goes into CPU0_DIMM_A2 of the default board (one DIMM per
// channel): channel A no longer matches the others, the firmware maps
// controller 0 out of socket 0's interleave set, and once the OS has the
// new range the kernel moves the new module's share of the movable pages
// into it. Kernel pages stay; every handle still resolves. A second module
// on the same controller changes no interleave state and moves nothing.
func TestHotAddBreakingSymmetryMigratesPages(t *testing.T) {
	r := newRig(t, nil)
	const slot = "CPU0_DIMM_A2"
	k := r.p.l().kern
	var users, kerns []kernel.Handle
	for range 64 {
		h, err := k.Alloc(0, 9, true)
		r.must(err)
		users = append(users, h)
	}
	for range 8 {
		h, err := k.Alloc(0, 0, false)
		r.must(err)
		kerns = append(kerns, h)
	}
	before := map[kernel.Handle]uint64{}
	for _, h := range append(append([]kernel.Handle{}, users...), kerns...) {
		before[h], _, _, _ = k.PFN(h)
	}
	var bootPresent uint64
	for _, n := range r.p.Nodes() {
		if n.ID == 0 {
			bootPresent = n.PresentPages
		}
	}
	r.drain()

	r.hotAdd(slot, 32)
	recs := r.has(slot, "AddressMapUpdated", "InterleaveChanged", "ACPINotify", "KernelMemoryAdded", "MemoryHotAdded", "KernelPagesMigrated")
	ic, _ := find[events.InterleaveChanged](recs)
	if ic.Socket != 0 || ic.Controller != 0 || ic.Interleaved || ic.MapOut != 0b11 || len(ic.Migrate) == 0 {
		t.Fatalf("interleave change %+v", ic)
	}
	hot, _ := find[events.MemoryHotAdded](recs)
	mig, _ := find[events.KernelPagesMigrated](recs)
	t.Logf("%+v", mig)

	// The new module's share of the movable load, in whole order-9
	// allocations: M*D/(S+D) with S the boot pages of node 0.
	movable := uint64(len(users)) * 512
	dst := hot.Length / kernel.PageSize
	target := movable * dst / (bootPresent + dst)
	if mig.Slot != slot || mig.Node != 0 || mig.Socket != 0 || mig.Controller != 0 ||
		mig.Movable != movable || mig.Target != target || mig.Pages != target/512*512 || mig.Pages == 0 ||
		mig.Allocations != int(mig.Pages/512) || mig.Unmovable < uint64(len(kerns)) || mig.Reserved == 0 ||
		!strings.Contains(mig.Reason, "Map Out 0x3") {
		t.Fatalf("migration %+v, want %d of %d pages", mig, target/512*512, movable)
	}

	// Moved handles live in the new range, the others where they were.
	var inNew uint64
	for _, h := range users {
		pfn, _, nid, ok := k.PFN(h)
		switch addr := pfn * kernel.PageSize; {
		case !ok || nid != 0:
			t.Fatalf("handle %d lost: ok %v node %d", h, ok, nid)
		case addr >= hot.Base && addr < hot.Base+hot.Length:
			inNew += 512
		case pfn != before[h]:
			t.Fatalf("handle %d moved from %#x to %#x outside %s", h, before[h], pfn, slot)
		}
	}
	if inNew != mig.Pages {
		t.Fatalf("%d pages of the workload in %s, event says %d", inNew, slot, mig.Pages)
	}
	for _, h := range kerns {
		if pfn, _, _, _ := k.PFN(h); pfn != before[h] {
			t.Fatalf("kernel page %d moved from %#x to %#x", h, before[h], pfn)
		}
	}
	log := dmesgText(r.p)
	for _, want := range []string{
		"socket 0 memory controller 0 not interleaved (Map Out 0x3): migrating pages of node 0 into",
		fmt.Sprintf("memory_hotplug: rebalance node 0: migrated %d of %d movable pages (%d allocations) to [mem 0x%08x-0x%08x], target %d",
			mig.Pages, movable, mig.Allocations, hot.Base, hot.Base+hot.Length-1, target),
	} {
		if !strings.Contains(log, want) {
			t.Fatalf("dmesg lacks %q:\n%s", want, log)
		}
	}
	r.invariants()
	r.otherModulesServe(slot)

	// Same controller: already mapped out, nothing more to move.
	r.hotAdd("CPU0_DIMM_B2", 32)
	recs = r.has("CPU0_DIMM_B2", "KernelMemoryAdded", "MemoryHotAdded")
	if _, again := find[events.KernelPagesMigrated](recs); again {
		t.Fatal("a second module on a mapped-out controller migrated pages again")
	}
	if _, again := find[events.InterleaveChanged](recs); again {
		t.Fatal("controller 0 left the interleave set twice")
	}
	for _, h := range users {
		if _, _, _, ok := k.PFN(h); !ok {
			t.Fatalf("handle %d lost", h)
		}
	}
	r.invariants()
}
