package kernel

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Cpusets, simulated tasks and the scheduler's per-node load (seed item
// 19). The model follows kernel/cgroup/cpuset.c with cgroup v2's
// effective masks and a flat hierarchy under the root:
//
//   - the root cpuset holds every CPU and every node with memory
//     (node_states[N_MEMORY]); like top_cpuset after
//     cpuset_hotplug_workfn, its effective mems follow memory hot-plug;
//   - a child's mems are what was written to cpuset.mems, which must name
//     nodes with memory (update_nodemask refuses others with EINVAL); its
//     effective_mems are mems ∩ N_MEMORY, or the parent's when that is
//     empty. A node that appears through hot-add is therefore usable by
//     the root and by no existing child until its mems name it;
//   - a task's page allocations (alloc_pages with the task's
//     mems_allowed, cpuset_mems_allowed()) walk the zonelist of the node
//     the task runs on, skipping nodes outside its cpuset
//     (cpuset_zone_allowed()): user pages always, as GFP_HIGHUSER carries
//     __GFP_HARDWALL; kernel pages only in a mem_hardwall cpuset, else
//     they may use the nearest hardwall ancestor's nodes, the root's;
//   - tasks are placed on the CPU of their cpuset's effective CPUs whose
//     node runs the fewest tasks, lowest CPU first (a stand-in for
//     kernel/sched/fair.c's select_task_rq_fair idlest-group search);
//     the per-node count of runnable tasks is the load the view shows.

// RootCpuset is the top cpuset's name.
const RootCpuset = "/"

type cpuset struct {
	name     string
	cpus     []int // cpuset.cpus
	mems     []int // cpuset.mems
	hardwall bool  // cpuset.mem_hardwall
}

type task struct {
	pid    int
	comm   string
	cpuset *cpuset
	cpu    int
	allocs []Handle
}

// Cpuset is one cpuset as /sys/fs/cgroup/NAME/cpuset.* shows it.
type Cpuset struct {
	Name string `json:"name"`
	// CPUs and Mems are cpuset.cpus and cpuset.mems in list format
	// ("0-3,8"); the Effective ones are cpuset.cpus.effective and
	// cpuset.mems.effective.
	CPUs          string `json:"cpus"`
	Mems          string `json:"mems"`
	EffectiveCPUs string `json:"effective_cpus"`
	EffectiveMems string `json:"effective_mems"`
	MemHardwall   bool   `json:"mem_hardwall"`
	Tasks         []int  `json:"tasks"`
}

// Task is a simulated task.
type Task struct {
	PID    int    `json:"pid"`
	Comm   string `json:"comm"`
	Cpuset string `json:"cpuset"`
	CPU    int    `json:"cpu"`
	Node   int    `json:"node"`
	// Pages the task holds, per node.
	PagesByNode map[int]uint64 `json:"pages_by_node"`
}

// ParseList parses the kernel's list format ("0-3,8,10-11"), as
// bitmap_parselist() does; an empty string is the empty set. Each number
// must be below limit.
func ParseList(s string, limit int) ([]int, error) {
	s = strings.TrimSpace(s)
	var out []int
	if s == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%q: %q is not a number", s, lo)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < 0 {
				return nil, fmt.Errorf("%q: %q is not a number", s, hi)
			}
		}
		if b < a {
			return nil, fmt.Errorf("%q: range %d-%d runs backwards", s, a, b)
		}
		if b >= limit {
			return nil, fmt.Errorf("%q: %d is out of range (limit %d)", s, b, limit)
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// FormatList prints a sorted set in list format.
func FormatList(v []int) string {
	var b strings.Builder
	for i := 0; i < len(v); {
		j := i
		for j+1 < len(v) && v[j+1] == v[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if j > i {
			fmt.Fprintf(&b, "%d-%d", v[i], v[j])
		} else {
			fmt.Fprintf(&b, "%d", v[i])
		}
		i = j + 1
	}
	return b.String()
}

// setupCPUs numbers the CPUs node by node (k.mu held or during boot).
func (k *Kernel) setupCPUs() {
	per := k.cfg.NodeCPUs
	if per == nil {
		per = map[int]int{}
		for _, nid := range k.nodeIDs() {
			per[nid] = 1
		}
	}
	nids := make([]int, 0, len(per))
	for nid, n := range per {
		if n > 0 {
			nids = append(nids, nid)
		}
	}
	slices.Sort(nids)
	for _, nid := range nids {
		for range per[nid] {
			k.cpuNode = append(k.cpuNode, nid)
		}
	}
	k.root = &cpuset{name: RootCpuset}
	k.cpusets = map[string]*cpuset{RootCpuset: k.root}
	k.tasks = map[int]*task{}
}

// memoryNodes is node_states[N_MEMORY].
func (k *Kernel) memoryNodes() []int {
	var out []int
	for _, nid := range k.nodeIDs() {
		if k.nodes[nid].presentPages() > 0 {
			out = append(out, nid)
		}
	}
	return out
}

func (k *Kernel) allCPUs() []int {
	out := make([]int, len(k.cpuNode))
	for i := range out {
		out[i] = i
	}
	return out
}

func intersect(a, b []int) []int {
	var out []int
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// effectiveMems is cpuset.mems.effective.
func (k *Kernel) effectiveMems(cs *cpuset) []int {
	mem := k.memoryNodes()
	if cs == k.root {
		return mem
	}
	if e := intersect(cs.mems, mem); len(e) > 0 {
		return e
	}
	return mem
}

func (k *Kernel) effectiveCPUs(cs *cpuset) []int {
	if cs == k.root || len(cs.cpus) == 0 {
		return k.allCPUs()
	}
	return cs.cpus
}

// CreateCpuset is mkdir /sys/fs/cgroup/NAME with cpuset.cpus, cpuset.mems
// and cpuset.mem_hardwall written.
func (k *Kernel) CreateCpuset(name, cpus, mems string, hardwall bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	const op = "cpuset_css_alloc"
	if err := validCpusetName(name); err != nil {
		return kerr(op, EINVAL, err.Error())
	}
	if k.cpusets[name] != nil {
		return kerr(op, EEXIST, fmt.Sprintf("cpuset %s exists", name))
	}
	cs := &cpuset{name: name, hardwall: hardwall}
	if err := k.writeCpuset(cs, cpus, mems); err != nil {
		return err
	}
	k.cpusets[name] = cs
	k.printk(KernInfo, "cgroup: cpuset %s created: cpus %s mems %s", name, FormatList(cs.cpus), FormatList(cs.mems))
	return nil
}

// UpdateCpuset writes cpuset.cpus and cpuset.mems of an existing cpuset
// (nil leaves one unchanged). Running tasks keep their CPU; their future
// allocations follow the new mems (cpuset_update_task_memory_state).
func (k *Kernel) UpdateCpuset(name string, cpus, mems *string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	cs := k.cpusets[name]
	if cs == nil {
		return kerr("cpuset_write_resmask", ENOENT, fmt.Sprintf("no cpuset %s", name))
	}
	if cs == k.root {
		return kerr("cpuset_write_resmask", EINVAL, "the root cpuset's cpus and mems follow the hardware")
	}
	c, m := FormatList(cs.cpus), FormatList(cs.mems)
	if cpus != nil {
		c = *cpus
	}
	if mems != nil {
		m = *mems
	}
	tmp := *cs
	if err := k.writeCpuset(&tmp, c, m); err != nil {
		return err
	}
	*cs = tmp
	k.printk(KernInfo, "cgroup: cpuset %s: cpus %s mems %s", name, FormatList(cs.cpus), FormatList(cs.mems))
	return nil
}

func (k *Kernel) writeCpuset(cs *cpuset, cpus, mems string) error {
	const op = "cpuset_write_resmask"
	c, err := ParseList(cpus, len(k.cpuNode))
	if err != nil {
		return kerr(op, EINVAL, "cpuset.cpus "+err.Error())
	}
	m, err := ParseList(mems, MaxNumNodes)
	if err != nil {
		return kerr(op, EINVAL, "cpuset.mems "+err.Error())
	}
	// update_nodemask: mems must be a subset of the root's (N_MEMORY).
	mem := k.memoryNodes()
	for _, nid := range m {
		if !slices.Contains(mem, nid) {
			return kerr(op, EINVAL, fmt.Sprintf("cpuset.mems %s: node %d has no memory (nodes with memory: %s)", mems, nid, FormatList(mem)))
		}
	}
	if len(c) == 0 || len(m) == 0 {
		return kerr(op, EINVAL, "a cpuset needs at least one CPU and one memory node")
	}
	cs.cpus, cs.mems = c, m
	return nil
}

// DeleteCpuset is rmdir: refused with EBUSY while tasks run in it.
func (k *Kernel) DeleteCpuset(name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	cs := k.cpusets[name]
	if cs == nil {
		return kerr("cgroup_rmdir", ENOENT, fmt.Sprintf("no cpuset %s", name))
	}
	if cs == k.root {
		return kerr("cgroup_rmdir", EBUSY, "the root cpuset cannot be removed")
	}
	for _, t := range k.tasks {
		if t.cpuset == cs {
			return kerr("cgroup_rmdir", EBUSY, fmt.Sprintf("cpuset %s has tasks (pid %d)", name, t.pid))
		}
	}
	delete(k.cpusets, name)
	k.printk(KernInfo, "cgroup: cpuset %s removed", name)
	return nil
}

func validCpusetName(name string) error {
	if name == "" || name == RootCpuset || len(name) > 64 || strings.ContainsAny(name, "/\x00 \t\n") || name == "." || name == ".." {
		return fmt.Errorf("cpuset name %q: 1-64 characters, no slash or blank, neither \".\" nor \"..\"", name)
	}
	return nil
}

// Cpusets lists the cpusets, the root first.
func (k *Kernel) Cpusets() []Cpuset {
	k.mu.Lock()
	defer k.mu.Unlock()
	names := make([]string, 0, len(k.cpusets))
	for n := range k.cpusets {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == RootCpuset:
			return -1
		case b == RootCpuset:
			return 1
		}
		return cmp.Compare(a, b)
	})
	out := make([]Cpuset, 0, len(names))
	for _, n := range names {
		cs := k.cpusets[n]
		c := Cpuset{Name: n, CPUs: FormatList(cs.cpus), Mems: FormatList(cs.mems), MemHardwall: cs.hardwall || cs == k.root,
			EffectiveCPUs: FormatList(k.effectiveCPUs(cs)), EffectiveMems: FormatList(k.effectiveMems(cs)), Tasks: []int{}}
		if cs == k.root {
			c.CPUs, c.Mems = c.EffectiveCPUs, c.EffectiveMems
		}
		for _, t := range k.sortedTasks() {
			if t.cpuset == cs {
				c.Tasks = append(c.Tasks, t.pid)
			}
		}
		out = append(out, c)
	}
	return out
}

func (k *Kernel) sortedTasks() []*task {
	out := make([]*task, 0, len(k.tasks))
	for _, t := range k.tasks {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *task) int { return a.pid - b.pid })
	return out
}

// nrRunning is the per-node count of runnable tasks.
func (k *Kernel) nrRunning() map[int]int {
	n := map[int]int{}
	for _, t := range k.tasks {
		n[k.cpuNode[t.cpu]]++
	}
	return n
}

// Spawn starts a simulated task named comm in cpuset name ("" is the
// root) and places it on a CPU: the least loaded node among the cpuset's
// effective CPUs, the lowest CPU there running fewest tasks.
func (k *Kernel) Spawn(comm, name string) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if name == "" {
		name = RootCpuset
	}
	cs := k.cpusets[name]
	if cs == nil {
		return 0, kerr("cgroup_attach_task", ENOENT, fmt.Sprintf("no cpuset %s", name))
	}
	if comm == "" || len(comm) > 15 {
		return 0, kerr("execve", EINVAL, fmt.Sprintf("task name %q: 1-15 characters (TASK_COMM_LEN)", comm))
	}
	load := k.nrRunning()
	perCPU := map[int]int{}
	for _, t := range k.tasks {
		perCPU[t.cpu]++
	}
	best := -1
	for _, c := range k.effectiveCPUs(cs) {
		if best < 0 || load[k.cpuNode[c]] < load[k.cpuNode[best]] ||
			load[k.cpuNode[c]] == load[k.cpuNode[best]] && perCPU[c] < perCPU[best] {
			best = c
		}
	}
	k.nextPID++
	t := &task{pid: k.nextPID, comm: comm, cpuset: cs, cpu: best}
	k.tasks[t.pid] = t
	return t.pid, nil
}

// Exit ends a task and frees its pages.
func (k *Kernel) Exit(pid int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	t := k.tasks[pid]
	if t == nil {
		return kerr("do_exit", ENOENT, fmt.Sprintf("no task %d", pid))
	}
	for _, h := range t.allocs {
		if k.allocs[h] != nil {
			k.release(h)
		}
	}
	delete(k.tasks, pid)
	return nil
}

// TaskAlloc allocates 1<<order pages for task pid: from the zonelist of
// the node it runs on, within its cpuset's effective mems (always for
// movable user pages, __GFP_HARDWALL; for kernel pages only in a
// mem_hardwall cpuset). Exhausting the allowed nodes fails with ENOMEM
// and the warn_alloc line naming the cpuset and mems_allowed, even when
// other nodes have memory.
func (k *Kernel) TaskAlloc(pid, order int, movable bool) (Handle, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.taskAlloc(pid, order, movable)
}

// TaskAllocMiB allocates mib MiB for task pid in 4 MiB (order-10)
// blocks, all or nothing: on failure what this call took is freed and
// the error is TaskAlloc's.
func (k *Kernel) TaskAllocMiB(pid int, mib uint64, movable bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	const chunk = (PageSize << (MaxOrder - 1)) >> 20 // MiB per order-10 block
	if mib == 0 || mib%chunk != 0 || mib > 1<<30 {
		return kerr("alloc_pages", EINVAL, fmt.Sprintf("%d MiB: a positive multiple of %d MiB, at most 1 EiB", mib, chunk))
	}
	t := k.tasks[pid]
	var got int
	if t != nil {
		got = len(t.allocs)
	}
	for range mib / chunk {
		if _, err := k.taskAlloc(pid, MaxOrder-1, movable); err != nil {
			if t != nil {
				for _, h := range t.allocs[got:] {
					k.release(h)
				}
				t.allocs = t.allocs[:got]
			}
			return err
		}
	}
	return nil
}

func (k *Kernel) taskAlloc(pid, order int, movable bool) (Handle, error) {
	t := k.tasks[pid]
	if t == nil {
		return 0, kerr("alloc_pages", ENOENT, fmt.Sprintf("no task %d", pid))
	}
	if order < 0 || order >= MaxOrder {
		return 0, kerr("alloc_pages", EINVAL, fmt.Sprintf("order %d out of range 0..%d", order, MaxOrder-1))
	}
	kind := kindUnmovable
	if movable {
		kind = kindMovable
	}
	allowed := k.effectiveMems(t.cpuset)
	if !movable && !t.cpuset.hardwall {
		allowed = k.effectiveMems(k.root)
	}
	z, pfn, ok := k.rmqueueNodes(k.fallback(k.cpuNode[t.cpu]), allowed, order, kind)
	if !ok {
		mode := "0xcc0(GFP_KERNEL)"
		if movable {
			mode = "0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)"
		}
		msg := fmt.Sprintf("%s: page allocation failure: order:%d, mode:%s, nodemask=(null),cpuset=%s,mems_allowed=%s",
			t.comm, order, mode, t.cpuset.name, FormatList(allowed))
		k.printk(KernWarning, "%s", msg)
		return 0, kerr("alloc_pages", ENOMEM, msg)
	}
	k.nextHandle++
	a := &allocation{pfn: pfn, order: order, kind: kind, zone: z}
	k.allocs[k.nextHandle] = a
	k.account(a)
	t.allocs = append(t.allocs, k.nextHandle)
	return k.nextHandle, nil
}

// Tasks lists the simulated tasks by PID.
func (k *Kernel) Tasks() []Task {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := []Task{}
	for _, t := range k.sortedTasks() {
		v := Task{PID: t.pid, Comm: t.comm, Cpuset: t.cpuset.name, CPU: t.cpu, Node: k.cpuNode[t.cpu], PagesByNode: map[int]uint64{}}
		for _, h := range t.allocs {
			if a := k.allocs[h]; a != nil {
				v.PagesByNode[a.zone.nid] += a.pages()
			}
		}
		out = append(out, v)
	}
	return out
}

// nodeCPUList is /sys/devices/system/node/nodeN/cpulist.
func (k *Kernel) nodeCPUList(nid int) []int {
	var out []int
	for c, n := range k.cpuNode {
		if n == nid {
			out = append(out, c)
		}
	}
	return out
}
