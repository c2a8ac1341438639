package kernel

import (
	"errors"
	"testing"
)

// memory_failure() on each kind of page: what it logs, what it counts, and
// that a poisoned page never goes back to the buddy, across free, offline,
// online and removal.
func TestMemoryFailure(t *testing.T) {
	k, _ := bootDefault(t, Config{AutoOnline: OnlineMovable})
	mi0 := k.Meminfo()
	isErrno := func(err error, want Errno) bool {
		var e *Error
		return errors.As(err, &e) && e.Errno == want
	}

	// A free page of node 1 leaves the buddy.
	free := 400 * GiB / PageSize
	res, err := k.MemoryFailure(free)
	if err != nil || res.Page != "free buddy page" || res.Result != "Recovered" {
		t.Fatalf("free page: %+v %v", res, err)
	}
	wantLog(t, k, "Memory failure: 0x6400000: recovery action for free buddy page: Recovered")
	mi := k.Meminfo()
	if mi.HardwareCorrupted != 4 || mi0.MemFree-mi.MemFree != 4 || mi.MemTotal != mi0.MemTotal {
		t.Fatalf("meminfo after a free page failed: corrupted %d kB, free %d -> %d, total %d -> %d",
			mi.HardwareCorrupted, mi0.MemFree, mi.MemFree, mi0.MemTotal, mi.MemTotal)
	}
	if z := k.zoneOfPFN(free); z.free.ext.covers(free, free+1) {
		t.Fatal("poisoned page still in the buddy")
	}
	mustCheck(t, k)
	if _, err := k.MemoryFailure(free); !isErrno(err, EHWPOISON) {
		t.Fatalf("second failure of one page: %v", err)
	}
	wantLog(t, k, "Memory failure: 0x6400000: already hardware poisoned")

	// The memblock-reserved kernel image cannot be recovered.
	var reserved uint64
	for _, pg := range k.nodes {
		for i := range pg.zones {
			if r := pg.zones[i].reserved; len(r) > 0 {
				reserved = r[0].start
			}
		}
	}
	if res, err := k.MemoryFailure(reserved); !isErrno(err, EBUSY) || res.Page != "reserved kernel page" || res.Result != "Ignored" {
		t.Fatalf("reserved page: %+v %v", res, err)
	}
	// A frame in the MMIO hole is nobody's.
	if _, err := k.MemoryFailure(3 * GiB / PageSize); !isErrno(err, ENXIO) {
		t.Fatalf("MMIO frame: %v", err)
	}
	wantLog(t, k, "memory outside kernel control")

	// A user page stays with its owner; freed, it does not reach the buddy.
	h, err := k.Alloc(1, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	upfn, _, _, _ := k.PFN(h)
	if res, err := k.MemoryFailure(upfn); err != nil || res.Page != "dirty LRU page" {
		t.Fatalf("user page: %+v %v", res, err)
	}
	if err := k.Free(h); err != nil {
		t.Fatal(err)
	}
	if z := k.zoneOfPFN(upfn); z.free.ext.covers(upfn, upfn+1) {
		t.Fatal("a freed poisoned page went back to the buddy")
	}
	mustCheck(t, k)
	if got := k.Meminfo().HardwareCorrupted; got != 12 {
		t.Fatalf("HardwareCorrupted %d kB, want 12 (three pages)", got)
	}

	// Hot-added memory: a poisoned page does not pin its block; it stays
	// poisoned across offline/online and is forgotten with the memory.
	base := 1024 * GiB
	if err := k.AddMemory(1, base, 2*GiB, ""); err != nil {
		t.Fatal(err)
	}
	p := base/PageSize + 77
	if _, err := k.MemoryFailure(p); err != nil {
		t.Fatal(err)
	}
	id := k.BlockForAddr(base)
	if err := k.OfflineBlock(id); err != nil {
		t.Fatalf("offline a block holding a poisoned page: %v", err)
	}
	mustCheck(t, k)
	if err := k.OnlineBlock(id, OnlineMovable); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, k)
	if z := k.zoneOfPFN(p); z == nil || z.free.ext.covers(p, p+1) {
		t.Fatal("the poisoned page came back to the buddy when its block was onlined")
	}
	if err := k.OfflineBlock(id); err != nil {
		t.Fatal(err)
	}
	if err := k.RemoveMemory(base, 2*GiB); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, k)
	if got := k.Meminfo().HardwareCorrupted; got != 12 {
		t.Fatalf("HardwareCorrupted %d kB after removal, want 12", got)
	}
}
