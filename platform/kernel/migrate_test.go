package kernel

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// nodeLoad sums node nid's zones: movable pages, pinned pages (kernel
// allocations and memmap) and boot reservations.
func nodeLoad(t *testing.T, k *Kernel, nid int) (movable, pinned, reserved, present uint64) {
	t.Helper()
	n := mustNode(t, k, nid)
	for _, z := range n.Zones {
		movable += z.MovablePages
		pinned += z.UnmovablePages + z.MemmapPages
		reserved += z.ReservedPages
	}
	return movable, pinned, reserved, n.PresentPages
}

// TestRebalanceMovesProportionalShare boots the default server, lets a
// workload fill node 0 with user and kernel pages, hot-adds a 32 GiB
// module to node 0 and rebalances from the boot ranges into it: exactly
// the movable allocations that fit the new range's share move, kernel
// pages stay, every handle still resolves and the books balance.
func TestRebalanceMovesProportionalShare(t *testing.T) {
	k, _ := bootDefault(t, Config{})
	const user, kern = 200, 10
	var users, kerns []Handle
	for range user {
		h, err := k.Alloc(0, 9, true)
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, h)
	}
	for range kern {
		h, err := k.Alloc(0, 2, false)
		if err != nil {
			t.Fatal(err)
		}
		kerns = append(kerns, h)
	}
	_, _, _, bootPresent := nodeLoad(t, k, 0)
	before := map[Handle]uint64{}
	for _, h := range append(append([]Handle{}, users...), kerns...) {
		pfn, _, _, _ := k.PFN(h)
		before[h] = pfn
	}

	base, size := 1024*GiB, 32*GiB
	if err := k.AddMemory(0, base, size, ""); err != nil {
		t.Fatal(err)
	}
	movable0, pinned0, reserved0, _ := nodeLoad(t, k, 0)
	if movable0 != user*512 {
		t.Fatalf("movable pages on node 0: %d", movable0)
	}
	from := []PhysRange{{4 * GiB, 254 * GiB}, {0, 2 * GiB}} // any order
	to := PhysRange{base, size}
	got, err := k.Rebalance(0, to, from)
	if err != nil {
		t.Fatal(err)
	}
	mustCheck(t, k)

	// The share: M*D/(S+D), in whole order-9 allocations.
	dst := size / PageSize
	target := movable0 * dst / (bootPresent + dst)
	want := Rebalanced{Node: 0, Movable: movable0, Unmovable: pinned0, Reserved: reserved0,
		Target: target, Moved: target / 512 * 512, Allocations: int(target / 512)}
	if got != want {
		t.Fatalf("Rebalance = %+v\n want %+v", got, want)
	}
	if got.Moved == 0 || got.Unmovable < kern*4+size/SectionSize*memmapPagesPerSection {
		t.Fatalf("nothing moved or kernel pages uncounted: %+v", got)
	}

	// Handles: the moved ones live in the new range, the rest where they
	// were; kernel pages never move.
	ts, te := base/PageSize, (base+size)/PageSize
	var moved uint64
	for _, h := range users {
		pfn, order, nid, ok := k.PFN(h)
		if !ok || nid != 0 || order != 9 {
			t.Fatalf("handle %d: pfn %#x order %d node %d ok %v", h, pfn, order, nid, ok)
		}
		switch {
		case pfn >= ts && pfn < te:
			moved += 512
		case pfn != before[h]:
			t.Fatalf("handle %d moved from %#x to %#x outside the destination", h, before[h], pfn)
		}
	}
	if moved != got.Moved {
		t.Fatalf("%d pages of handles in the new range, Rebalance says %d", moved, got.Moved)
	}
	for _, h := range kerns {
		if pfn, _, _, _ := k.PFN(h); pfn != before[h] {
			t.Fatalf("kernel allocation %d moved from %#x to %#x", h, before[h], pfn)
		}
	}
	// Counters: node totals unchanged, the new range's blocks hold what
	// moved, and every handle still frees.
	if m, p, r, _ := nodeLoad(t, k, 0); m != movable0 || p != pinned0 || r != reserved0 {
		t.Fatalf("node 0 load %d/%d/%d, was %d/%d/%d", m, p, r, movable0, pinned0, reserved0)
	}
	var inBlocks uint64
	for _, b := range k.Blocks() {
		if b.Start >= base && b.Start < base+size {
			inBlocks += b.MovablePages
		}
	}
	if inBlocks != got.Moved {
		t.Fatalf("new blocks count %d movable pages, moved %d", inBlocks, got.Moved)
	}
	wantLog(t, k,
		fmt.Sprintf("memory_hotplug: rebalance node 0: migrated %d of %d movable pages (%d allocations) to [mem 0x%08x-0x%08x], target %d",
			got.Moved, movable0, got.Allocations, base, base+size-1, target),
		fmt.Sprintf("memory_hotplug:   from [mem 0x%08x-0x%08x]: %d pages migrated,", uint64(0), 2*GiB-1, uint64(0)),
		fmt.Sprintf("memory_hotplug:   from [mem 0x%08x-0x%08x]: %d pages migrated,", 4*GiB, 258*GiB-1, got.Moved))

	// Balanced already: a second pass has less than one allocation to do.
	again, err := k.Rebalance(0, to, from)
	if err != nil || again.Moved != 0 || again.Target >= 512 {
		t.Fatalf("second Rebalance = %+v, %v", again, err)
	}
	for _, h := range append(users, kerns...) {
		if err := k.Free(h); err != nil {
			t.Fatal(err)
		}
	}
	mustCheck(t, k)
	if m, _, _, _ := nodeLoad(t, k, 0); m != 0 {
		t.Fatalf("%d movable pages left after freeing everything", m)
	}
}

// TestRebalanceShortOnFragmentedDestination fragments the destination so
// that no order-9 block is free in it: nothing moves, the result says the
// destination was short and the log says why.
func TestRebalanceShortOnFragmentedDestination(t *testing.T) {
	k, err := Boot(Config{BlockSize: 128 * MiB, AutoOnline: OnlineMovable}, []Range{{Start: 0, Size: 512 * MiB}})
	if err != nil {
		t.Fatal(err)
	}
	var src []Handle
	for range 176 {
		h, err := k.Alloc(0, 9, true)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, h)
	}
	base := GiB
	if err := k.AddMemory(0, base, 128*MiB, ""); err != nil {
		t.Fatal(err)
	}
	ts, te := base/PageSize, (base+128*MiB)/PageSize
	var dst []Handle
	for {
		h, err := k.Alloc(0, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		if pfn, _, _, _ := k.PFN(h); pfn < ts || pfn >= te {
			if err := k.Free(h); err != nil {
				t.Fatal(err)
			}
			break
		}
		dst = append(dst, h)
	}
	// Free every other page: plenty free, no two adjacent.
	for _, h := range dst {
		if pfn, _, _, _ := k.PFN(h); pfn%2 == 0 {
			if err := k.Free(h); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustCheck(t, k)
	pfns := map[Handle]uint64{}
	for _, h := range src {
		pfns[h], _, _, _ = k.PFN(h)
	}
	got, err := k.Rebalance(0, PhysRange{base, 128 * MiB}, []PhysRange{{0, 512 * MiB}})
	if err != nil {
		t.Fatal(err)
	}
	mustCheck(t, k)
	if got.Target == 0 || got.Moved != 0 || !got.Short {
		t.Fatalf("Rebalance = %+v", got)
	}
	for _, h := range src {
		if pfn, _, _, _ := k.PFN(h); pfn != pfns[h] {
			t.Fatalf("handle %d moved to %#x though nothing fits", h, pfn)
		}
	}
	wantLog(t, k, fmt.Sprintf("memory_hotplug: rebalance node 0: [mem 0x%08x-0x%08x] is full above the min watermark: 0 of %d pages migrated",
		base, base+128*MiB-1, got.Target))
}

func TestRebalanceRefusesBadRanges(t *testing.T) {
	k, _ := bootDefault(t, Config{AutoOnline: Offline})
	base := 1024 * GiB
	if err := k.AddMemory(0, base, 2*GiB, ""); err != nil {
		t.Fatal(err)
	}
	boot := []PhysRange{{0, 2 * GiB}, {4 * GiB, 254 * GiB}}
	for _, c := range []struct {
		name string
		nid  int
		to   PhysRange
		from []PhysRange
		msg  string
	}{
		{"missing node", 5, PhysRange{base, 2 * GiB}, boot, "node 5 is not online"},
		{"empty destination", 0, PhysRange{base, 0}, boot, "empty or not page aligned"},
		{"unaligned source", 0, PhysRange{base, 2 * GiB}, []PhysRange{{1, PageSize}}, "empty or not page aligned"},
		{"overlap", 0, PhysRange{4 * GiB, 2 * GiB}, boot, "overlaps destination"},
		{"offline destination", 0, PhysRange{base, 2 * GiB}, boot, "no online memory of node 0"},
		{"other node's memory", 1, PhysRange{0, 2 * GiB}, []PhysRange{{4 * GiB, GiB}}, "no online memory of node 1"},
	} {
		_, err := k.Rebalance(c.nid, c.to, c.from)
		var ke *Error
		if !errors.As(err, &ke) || ke.Errno != EINVAL || !strings.Contains(ke.Msg, c.msg) {
			t.Errorf("%s: %v, want EINVAL %q", c.name, err, c.msg)
		}
	}
	mustCheck(t, k)
	// Once online, the same call works (and finds nothing to move).
	if err := k.OnlineBlock(k.BlockForAddr(base), OnlineMovable); err != nil {
		t.Fatal(err)
	}
	got, err := k.Rebalance(0, PhysRange{base, 2 * GiB}, boot)
	if err != nil || got.Moved != 0 || got.Movable != 0 || got.Unmovable == 0 || got.Reserved == 0 {
		t.Fatalf("Rebalance = %+v, %v", got, err)
	}
	mustCheck(t, k)
}
