package kernel

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	good := map[string][]int{"": {}, "0": {0}, "0-3,8": {0, 1, 2, 3, 8}, " 2,1,1 ": {1, 2}, "5-5": {5}}
	for in, want := range good {
		got, err := ParseList(in, 16)
		if err != nil || !slices.Equal(got, want) && len(want)+len(got) > 0 {
			t.Errorf("ParseList(%q) = %v, %v; want %v", in, got, err, want)
		}
		if in != "" && FormatList(got) != FormatList(want) {
			t.Errorf("FormatList round trip of %q: %q", in, FormatList(got))
		}
	}
	for _, in := range []string{"a", "3-1", "0-16", "-1", "1,", "1--2", "99999999999999999999"} {
		if _, err := ParseList(in, 16); err == nil {
			t.Errorf("ParseList(%q) accepted", in)
		}
	}
	if got := FormatList([]int{0, 1, 2, 5, 7, 8}); got != "0-2,5,7-8" {
		t.Errorf("FormatList = %q", got)
	}
}

func FuzzParseList(f *testing.F) {
	for _, s := range []string{"", "0-3,8", "1-", "4096", "0-1023"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseList(s, 1024)
		if err != nil {
			return
		}
		if !slices.IsSorted(v) || len(slices.Compact(slices.Clone(v))) != len(v) {
			t.Fatalf("ParseList(%q) = %v: not a sorted set", s, v)
		}
		back, err := ParseList(FormatList(v), 1024)
		if err != nil || !slices.Equal(back, v) {
			t.Fatalf("round trip of %v via %q: %v %v", v, FormatList(v), back, err)
		}
	})
}

func bootCPUs(t *testing.T) *Kernel {
	t.Helper()
	k, _ := bootDefault(t, Config{BlockSize: 128 * MiB, NodeCPUs: map[int]int{0: 4, 1: 4}})
	return k
}

func TestCpusetConfinesAllocations(t *testing.T) {
	k := bootCPUs(t)
	if err := k.CreateCpuset("db", "4-7", "1", false); err != nil {
		t.Fatal(err)
	}
	pid, err := k.Spawn("postgres", "db")
	if err != nil {
		t.Fatal(err)
	}
	// Node 1's pages run out long before node 0's: fill node 1.
	var n int
	for {
		_, err := k.TaskAlloc(pid, MaxOrder-1, true)
		if err != nil {
			if !errors.Is(err, ErrNoMemory) || !strings.Contains(err.Error(), "cpuset=db,mems_allowed=1") {
				t.Fatalf("allocation failure: %v", err)
			}
			break
		}
		n++
	}
	tasks := k.Tasks()
	if len(tasks) != 1 || tasks[0].Node != 1 || tasks[0].CPU < 4 || tasks[0].PagesByNode[0] != 0 || tasks[0].PagesByNode[1] != uint64(n)<<(MaxOrder-1) {
		t.Fatalf("task %+v after %d allocations", tasks, n)
	}
	// All or nothing: a request beyond node 1 changes nothing.
	before := k.Tasks()[0].PagesByNode[1]
	if err := k.TaskAllocMiB(pid, 8, true); !errors.Is(err, ErrNoMemory) || k.Tasks()[0].PagesByNode[1] != before {
		t.Fatalf("TaskAllocMiB on a full node: %v", err)
	}
	if err := k.TaskAllocMiB(pid, 3, true); !errors.Is(err, ErrInvalid) {
		t.Fatalf("3 MiB: %v", err)
	}
	// Node 0 still has plenty: an unconfined task gets it.
	free, err := k.Spawn("free", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := k.TaskAllocMiB(free, 64, true); err != nil {
		t.Fatalf("root task: %v", err)
	}
	// Kernel pages of a non-hardwall cpuset may come from the root's nodes.
	if _, err := k.TaskAlloc(pid, 0, false); err != nil {
		t.Fatalf("GFP_KERNEL from a non-hardwall cpuset: %v", err)
	}
	mustCheck(t, k)
	if err := k.DeleteCpuset("db"); !errors.Is(err, ErrBusy) {
		t.Fatalf("rmdir with tasks: %v", err)
	}
	if err := k.Exit(pid); err != nil {
		t.Fatal(err)
	}
	if err := k.DeleteCpuset("db"); err != nil {
		t.Fatal(err)
	}
	if nodes := k.Nodes(); nodes[1].ZonesMovable() != 0 {
		t.Errorf("node 1 keeps %d movable pages after the task exited", nodes[1].ZonesMovable())
	}
	mustCheck(t, k)
}

// ZonesMovable sums the node's movable allocations.
func (n Node) ZonesMovable() uint64 {
	var s uint64
	for _, z := range n.Zones {
		s += z.MovablePages
	}
	return s
}

func TestCpusetHardwallKernelPages(t *testing.T) {
	k := bootCPUs(t)
	if err := k.CreateCpuset("rt", "0", "0", true); err != nil {
		t.Fatal(err)
	}
	pid, _ := k.Spawn("rt", "rt")
	for {
		h, err := k.TaskAlloc(pid, MaxOrder-1, false)
		if err != nil {
			break
		}
		if _, _, nid, _ := k.PFN(h); nid != 0 {
			t.Fatalf("hardwall kernel page on node %d", nid)
		}
	}
	mustCheck(t, k)
}

func TestHotAddedNodeOnlyForCpusetsThatAllowIt(t *testing.T) {
	k := bootCPUs(t)
	if err := k.CreateCpuset("web", "0-3", "0", false); err != nil {
		t.Fatal(err)
	}
	// Node 2 does not exist yet: refused.
	if err := k.UpdateCpuset("web", nil, ptr("0,2")); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "node 2 has no memory") {
		t.Fatalf("mems with a memoryless node: %v", err)
	}
	if err := k.AddMemory(2, 1024*GiB, 4*GiB, ""); err != nil {
		t.Fatal(err)
	}
	sets := k.Cpusets()
	if sets[0].Name != RootCpuset || sets[0].EffectiveMems != "0-2" || sets[1].EffectiveMems != "0" {
		t.Fatalf("after hot-add: %+v", sets)
	}
	if err := k.UpdateCpuset("web", nil, ptr("2")); err != nil {
		t.Fatal(err)
	}
	pid, _ := k.Spawn("nginx", "web")
	h, err := k.TaskAlloc(pid, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, nid, _ := k.PFN(h); nid != 2 {
		t.Errorf("web's page on node %d, want the new node 2", nid)
	}
	mustCheck(t, k)
}

func ptr[T any](v T) *T { return &v }

func TestSchedulerPerNodeLoad(t *testing.T) {
	k := bootCPUs(t)
	var nodes []int
	for range 4 {
		pid, err := k.Spawn("worker", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range k.Tasks() {
			if tk.PID == pid {
				nodes = append(nodes, tk.Node)
			}
		}
	}
	if !slices.Equal(nodes, []int{0, 1, 0, 1}) {
		t.Errorf("tasks placed on nodes %v, want alternating", nodes)
	}
	ns := k.Nodes()
	if ns[0].NrRunning != 2 || ns[1].NrRunning != 2 || ns[0].CPUList != "0-3" || ns[1].CPUList != "4-7" {
		t.Errorf("nodes %+v", ns)
	}
	if _, err := k.Spawn("x", "nosuch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("spawn in a missing cpuset: %v", err)
	}
	for _, bad := range [][3]string{{"a/b", "0", "0"}, {"ok", "9", "0"}, {"ok", "0", "5"}, {"ok", "", "0"}, {RootCpuset, "0", "0"}} {
		if err := k.CreateCpuset(bad[0], bad[1], bad[2], false); !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateCpuset%v: %v", bad, err)
		}
	}
}

// totalram_pages() is MemTotal, through hot-add and balloon inflation.
func TestTotalRAMPagesIsMemTotal(t *testing.T) {
	k := bootCPUs(t)
	check := func(when string) {
		t.Helper()
		if got, want := k.TotalRAMPages()*PageSize/1024, k.Meminfo().MemTotal; got != want {
			t.Errorf("%s: totalram_pages %d kB, MemTotal %d kB", when, got, want)
		}
	}
	check("boot")
	if err := k.AddMemory(2, 1024*GiB, GiB, ""); err != nil {
		t.Fatal(err)
	}
	check("hot-add")
	if _, err := k.BalloonInflate(MaxOrder-1, true); err != nil {
		t.Fatal(err)
	}
	check("balloon")
}
