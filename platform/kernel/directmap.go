package kernel

import (
	"fmt"
	"slices"
	"strings"
)

// The direct map as page-table levels (seed item 12). When memory comes
// (boot's init_mem_mapping, hot-add's arch_add_memory -> init_memory_mapping)
// x86_64 maps it at PAGE_OFFSET + phys: arch/x86/mm/init.c split_mem_range
// cuts the range into a 4 KiB head up to the first 2 MiB boundary, 2 MiB
// pages up to the first 1 GiB boundary, 1 GiB pages (gbpages) through the
// middle, then 2 MiB and 4 KiB tails; arch/x86/mm/init_64.c
// kernel_physical_mapping_init walks phys_pud_init / phys_pmd_init /
// phys_pte_init writing the entries, allocating a PMD table the first time
// a GiB is split and a PTE table the first time a 2 MiB region is.
// Hot-remove (arch_remove_memory -> kernel_physical_mapping_remove ->
// remove_pagetable) clears leaf entries only where the removed range covers
// the whole page (a partly removed 1 GiB or 2 MiB page stays mapped, as
// remove_pud_table/remove_pmd_table leave it), frees page-table pages that
// became empty (free_pte_table, free_pmd_table; PUD tables stay with
// 4-level paging) and ends with a TLB shootdown: remove_pagetable calls
// flush_tlb_all(), which is also what flush_tlb_kernel_range() does above
// tlb_single_page_flush_ceiling pages (arch/x86/mm/tlb.c).
//
// The model keeps runs of leaf entries, not entries: a 12 TiB machine has a
// handful of runs. Per-table occupancy is kept only where tables exist
// (one counter per split GiB and per split 2 MiB region).

// Page-table levels (PG_LEVEL_4K, PG_LEVEL_2M, PG_LEVEL_1G).
const (
	level4K = iota
	level2M
	level1G
	nrLevels
)

const (
	pmdSize = 2 << 20
	pudSize = 1 << 30
	// p4dSize is what one PUD table maps: 512 GiB.
	p4dSize = 512 << 30
	// pageOffset is __PAGE_OFFSET_BASE_L4 without KASLR: the direct
	// map's virtual base with 4-level paging.
	pageOffset = 0xffff888000000000
	// tlbSinglePageFlushCeiling is tlb_single_page_flush_ceiling: a
	// kernel range flush of more pages flushes everything.
	tlbSinglePageFlushCeiling = 33
)

var levelSizes = [nrLevels]uint64{PageSize, pmdSize, pudSize}
var levelLabels = [nrLevels]string{"4k", "2M", "1G"}

// dmRun is a run of leaf entries of one size mapping [start, end).
type dmRun struct {
	start, end uint64
	level      int
}

type directMap struct {
	runs []dmRun // sorted, disjoint
	// bytes mapped per leaf size (/proc/meminfo DirectMap4k/2M/1G;
	// direct_pages_count in Linux counts pages of each size).
	bytes [nrLevels]uint64
	// Used entries of the page tables that exist, keyed by the index of
	// the region each table maps: PUD tables per 512 GiB, PMD tables per
	// GiB, PTE tables per 2 MiB.
	pudTables, pmdTables, pteTables map[uint64]uint64
	tablePages                      uint64
	written, cleared                PageTableCounts
	// TLB counters as /proc/vmstat names them (CONFIG_DEBUG_TLBFLUSH).
	tlbRemoteFlush, tlbRemoteFlushReceived, tlbLocalFlushAll, tlbLocalFlushOne uint64
	shootdowns                                                                 uint64
}

func newDirectMap() directMap {
	return directMap{pudTables: map[uint64]uint64{}, pmdTables: map[uint64]uint64{}, pteTables: map[uint64]uint64{}}
}

// splitMemRange is split_mem_range() with gbpages: [s, e) as pieces of
// the largest page size alignment allows.
func splitMemRange(s, e uint64) []dmRun {
	var out []dmRun
	up := func(x, a uint64) uint64 { return (x + a - 1) / a * a }
	down := func(x, a uint64) uint64 { return x / a * a }
	p := s
	add := func(a, b uint64, l int) {
		if a < b {
			out = append(out, dmRun{a, b, l})
			p = b
		}
	}
	add(p, min(up(p, pmdSize), e), level4K)                             // 4k head
	add(up(p, pmdSize), min(up(p, pudSize), down(e, pmdSize)), level2M) // 2M up to a GiB
	add(up(p, pudSize), down(e, pudSize), level1G)                      // 1G middle
	add(up(p, pmdSize), down(e, pmdSize), level2M)                      // 2M tail
	add(p, e, level4K)                                                  // 4k tail
	return out
}

// gaps returns the parts of [s, e) no run maps.
func (d *directMap) gaps(s, e uint64) [][2]uint64 {
	var out [][2]uint64
	p := s
	i, _ := slices.BinarySearchFunc(d.runs, s, func(r dmRun, x uint64) int {
		if r.end <= x {
			return -1
		}
		return 1
	})
	for ; i < len(d.runs) && d.runs[i].start < e && p < e; i++ {
		r := d.runs[i]
		if r.start > p {
			out = append(out, [2]uint64{p, r.start})
		}
		p = max(p, r.end)
	}
	if p < e {
		out = append(out, [2]uint64{p, e})
	}
	return out
}

// mapRange is kernel_physical_mapping_init for [s, e): what is already
// mapped (a large page that outlived a partial removal) is kept, the rest
// is mapped by split_mem_range's pieces. It returns the pieces it mapped.
func (d *directMap) mapRange(s, e uint64) []dmRun {
	var mapped []dmRun
	for _, g := range d.gaps(s, e) {
		for _, piece := range splitMemRange(g[0], g[1]) {
			d.install(piece)
			mapped = append(mapped, piece)
		}
	}
	return mapped
}

// regions calls f for each aligned region of size sz [a, b) touches, with
// its index and the bytes of [a, b) inside it.
func regions(a, b, sz uint64, f func(idx, n uint64)) {
	for r := a / sz; r*sz < b; r++ {
		f(r, min(b, (r+1)*sz)-max(a, r*sz))
	}
}

// useEntries adds n used entries to the table at idx of tables, creating
// the table (one page, and an entry in its parent) when it is new.
func (d *directMap) useEntries(tables map[uint64]uint64, idx, n uint64, parent func(idx uint64)) {
	if _, ok := tables[idx]; !ok {
		d.tablePages++
		parent(idx)
	}
	tables[idx] += n
}

// pudEntry, pmdEntry: an entry (leaf or table link) now used in the PUD
// table mapping GiB g, the PMD table mapping 2 MiB region m.
func (d *directMap) pudEntry(g uint64) {
	d.written.PUD++
	// A new PUD table is linked from the PGD (P4D folded) entry.
	d.useEntries(d.pudTables, g/(p4dSize/pudSize), 1, func(uint64) { d.written.PGD++ })
}

func (d *directMap) pmdEntry(m uint64) {
	d.written.PMD++
	d.useEntries(d.pmdTables, m/(pudSize/pmdSize), 1, d.pudEntry)
}

func (d *directMap) install(r dmRun) {
	sz := levelSizes[r.level]
	switch r.level {
	case level1G:
		for g := r.start / sz; g < r.end/sz; g++ {
			d.pudEntry(g)
		}
	case level2M:
		// Per GiB: the 2 MiB entries it gets, at once.
		regions(r.start, r.end, pudSize, func(g, n uint64) {
			d.written.PMD += n / pmdSize
			d.useEntries(d.pmdTables, g, n/pmdSize, d.pudEntry)
		})
	case level4K:
		regions(r.start, r.end, pmdSize, func(m, n uint64) {
			d.written.PTE += n / PageSize
			d.useEntries(d.pteTables, m, n/PageSize, d.pmdEntry)
		})
	}
	d.bytes[r.level] += r.end - r.start
	i, _ := slices.BinarySearchFunc(d.runs, r.start, func(x dmRun, s uint64) int {
		if x.start < s {
			return -1
		}
		return 1
	})
	d.runs = slices.Insert(d.runs, i, r)
	d.merge(i)
}

// merge joins run i with equal-level neighbours that touch it.
func (d *directMap) merge(i int) {
	if i+1 < len(d.runs) && d.runs[i].end == d.runs[i+1].start && d.runs[i].level == d.runs[i+1].level {
		d.runs[i].end = d.runs[i+1].end
		d.runs = slices.Delete(d.runs, i+1, i+2)
	}
	if i > 0 && d.runs[i-1].end == d.runs[i].start && d.runs[i-1].level == d.runs[i].level {
		d.runs[i-1].end = d.runs[i].end
		d.runs = slices.Delete(d.runs, i, i+1)
	}
}

// releaseEntries drops n used entries from the table at idx; an emptied
// table is freed and its entry in the parent cleared.
func (d *directMap) releaseEntries(tables map[uint64]uint64, idx, n uint64, parent func(idx uint64)) {
	tables[idx] -= n
	if tables[idx] == 0 {
		delete(tables, idx)
		d.tablePages--
		parent(idx)
	}
}

func (d *directMap) pudClear(g uint64) {
	d.cleared.PUD++
	// 4-level paging keeps PUD tables (remove_p4d_table frees them only
	// with 5-level paging): only the use count drops.
	d.pudTables[g/(p4dSize/pudSize)]--
}

func (d *directMap) pmdClear(m uint64) {
	d.cleared.PMD++
	d.releaseEntries(d.pmdTables, m/(pudSize/pmdSize), 1, d.pudClear)
}

// unmapResult is what remove_pagetable did.
type unmapResult struct {
	cleared  [nrLevels]uint64 // bytes unmapped per leaf size
	kept     []dmRun          // large pages that keep mapping part of the range
	freedPT  uint64           // page-table pages freed
	anything bool
}

// unmapRange is kernel_physical_mapping_remove for [s, e).
func (d *directMap) unmapRange(s, e uint64) unmapResult {
	var res unmapResult
	tables := d.tablePages
	var out []dmRun
	for _, r := range d.runs {
		if r.end <= s || r.start >= e {
			out = append(out, r)
			continue
		}
		sz := levelSizes[r.level]
		// Whole pages of r inside [s, e) go; the rest stays.
		lo := (max(r.start, s) + sz - 1) / sz * sz
		hi := min(r.end, e) / sz * sz
		if lo >= hi {
			res.kept = append(res.kept, dmRun{max(r.start, s), min(r.end, e), r.level})
			out = append(out, r)
			continue
		}
		if max(r.start, s) < lo || hi < min(r.end, e) {
			res.kept = append(res.kept, dmRun{max(r.start, s), min(r.end, e), r.level})
		}
		switch r.level {
		case level1G:
			for g := lo / sz; g < hi/sz; g++ {
				d.pudClear(g)
			}
		case level2M:
			regions(lo, hi, pudSize, func(g, n uint64) {
				d.cleared.PMD += n / pmdSize
				d.releaseEntries(d.pmdTables, g, n/pmdSize, d.pudClear)
			})
		case level4K:
			regions(lo, hi, pmdSize, func(m, n uint64) {
				d.cleared.PTE += n / PageSize
				d.releaseEntries(d.pteTables, m, n/PageSize, d.pmdClear)
			})
		}
		d.bytes[r.level] -= hi - lo
		res.cleared[r.level] += hi - lo
		res.anything = true
		if r.start < lo {
			out = append(out, dmRun{r.start, lo, r.level})
		}
		if hi < r.end {
			out = append(out, dmRun{hi, r.end, r.level})
		}
	}
	d.runs = out
	res.freedPT = tables - d.tablePages
	return res
}

// flushAll is flush_tlb_all() on a machine with cpus online CPUs: the
// initiator flushes its own TLB and IPIs the others, each of which does
// a full flush (do_flush_tlb_all).
func (d *directMap) flushAll(cpus int) {
	d.shootdowns++
	d.tlbLocalFlushAll++
	if cpus > 1 {
		d.tlbRemoteFlush++
		d.tlbRemoteFlushReceived += uint64(cpus - 1)
	}
}

// flushKernelRange is flush_tlb_kernel_range(): more pages than
// tlb_single_page_flush_ceiling flush everything (flush_tlb_all); fewer
// are invalidated one by one on every CPU. Hot-remove ranges are at least
// a memory block, so they always take the full flush remove_pagetable
// asks for. It reports whether the flush was a full one.
func (d *directMap) flushKernelRange(s, e uint64, cpus int) bool {
	if (e-s)/PageSize > tlbSinglePageFlushCeiling {
		d.flushAll(cpus)
		return true
	}
	d.shootdowns++
	d.tlbLocalFlushOne += (e - s) / PageSize
	if cpus > 1 {
		d.tlbRemoteFlush++
		d.tlbRemoteFlushReceived += uint64(cpus - 1)
	}
	return false
}

// directMapAdd maps [s, e) (boot and hot-add), printing init_memory_mapping's
// debug lines (arch/x86/mm/init.c) for what it mapped.
func (k *Kernel) directMapAdd(s, e uint64) {
	k.printk(KernDebug, "init_memory_mapping: [mem 0x%08x-0x%08x]", s, e-1)
	for _, p := range k.dmap.mapRange(s, e) {
		k.printk(KernDebug, " [mem 0x%08x-0x%08x] page %s", p.start, p.end-1, levelLabels[p.level])
	}
}

// directMapRemove unmaps [s, e) and shoots the stale translations down on
// every CPU, logging what went.
func (k *Kernel) directMapRemove(s, e uint64) {
	before := k.dmap.cleared
	res := k.dmap.unmapRange(s, e)
	for _, kept := range res.kept {
		k.printk(KernDebug, "x86/mm: direct map [mem 0x%08x-0x%08x] stays mapped: part of a %s page", kept.start, kept.end-1, levelLabels[kept.level])
	}
	if !res.anything {
		return
	}
	how := "flush_tlb_all"
	if !k.dmap.flushKernelRange(s, e, k.nrCPUs()) {
		how = "flush_tlb_one_kernel per page"
	}
	c := k.dmap.cleared
	k.printk(KernInfo, "x86/mm: direct map [mem 0x%08x-0x%08x] unmapped (1G %dM, 2M %dM, 4k %dk): cleared %d PUD, %d PMD, %d PTE entries, freed %d page-table pages; TLB shootdown %s on %d CPUs",
		s, e-1, res.cleared[level1G]>>20, res.cleared[level2M]>>20, res.cleared[level4K]>>10,
		c.PUD-before.PUD, c.PMD-before.PMD, c.PTE-before.PTE, res.freedPT, how, k.nrCPUs())
}

// PageTableCounts are page-table entries written or cleared, by level.
type PageTableCounts struct {
	PGD uint64 `json:"pgd"`
	PUD uint64 `json:"pud"`
	PMD uint64 `json:"pmd"`
	PTE uint64 `json:"pte"`
}

// DirectMapping is a run of direct-map leaf entries of one page size.
type DirectMapping struct {
	Start    uint64 `json:"start"` // physical, inclusive
	End      uint64 `json:"end"`   // physical, exclusive
	Virt     uint64 `json:"virt"`  // PAGE_OFFSET + Start
	PageSize string `json:"page_size"`
}

// DirectMap is the kernel's direct map: /proc/meminfo's DirectMap lines,
// the page-table work behind them, and the runs of mappings as
// /sys/kernel/debug/page_tables/kernel (ptdump) shows them.
type DirectMap struct {
	DirectMap4k uint64 `json:"DirectMap4k"` // kB
	DirectMap2M uint64 `json:"DirectMap2M"`
	DirectMap1G uint64 `json:"DirectMap1G"`
	// PageTablePages are the PUD, PMD and PTE tables the direct map uses.
	PageTablePages uint64          `json:"page_table_pages"`
	Written        PageTableCounts `json:"written"`
	Cleared        PageTableCounts `json:"cleared"`
	// TLBShootdowns counts the flushes after unmapping.
	TLBShootdowns uint64          `json:"tlb_shootdowns"`
	Mappings      []DirectMapping `json:"mappings"`
}

// DirectMap reports the direct map.
func (k *Kernel) DirectMap() DirectMap {
	k.mu.Lock()
	defer k.mu.Unlock()
	d := &k.dmap
	out := DirectMap{
		DirectMap4k: d.bytes[level4K] >> 10, DirectMap2M: d.bytes[level2M] >> 10, DirectMap1G: d.bytes[level1G] >> 10,
		PageTablePages: d.tablePages,
		Written:        d.written, Cleared: d.cleared,
		TLBShootdowns: d.shootdowns,
	}
	for _, r := range d.runs {
		out.Mappings = append(out.Mappings, DirectMapping{Start: r.start, End: r.end, Virt: pageOffset + r.start, PageSize: levelLabels[r.level]})
	}
	return out
}

// String formats d like meminfo's DirectMap lines, the counters, and the
// mappings like ptdump's "Low Kernel Mapping" section.
func (d DirectMap) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "DirectMap4k:    %8d kB\nDirectMap2M:    %8d kB\nDirectMap1G:    %8d kB\n", d.DirectMap4k, d.DirectMap2M, d.DirectMap1G)
	fmt.Fprintf(&b, "page-table pages: %d\n", d.PageTablePages)
	fmt.Fprintf(&b, "entries written: pgd %d pud %d pmd %d pte %d\n", d.Written.PGD, d.Written.PUD, d.Written.PMD, d.Written.PTE)
	fmt.Fprintf(&b, "entries cleared: pgd %d pud %d pmd %d pte %d\n", d.Cleared.PGD, d.Cleared.PUD, d.Cleared.PMD, d.Cleared.PTE)
	fmt.Fprintf(&b, "TLB shootdowns:  %d\n", d.TLBShootdowns)
	b.WriteString("---[ Low Kernel Mapping ]---\n")
	lvl := map[string]string{"4k": "pte", "2M": "pmd", "1G": "pud"}
	for _, m := range d.Mappings {
		pse := "   "
		if m.PageSize != "4k" {
			pse = "PSE"
		}
		fmt.Fprintf(&b, "0x%016x-0x%016x %10s     RW %s GLB NX %s\n", m.Virt, m.Virt+(m.End-m.Start), sizeLabel(m.End-m.Start), pse, lvl[m.PageSize])
	}
	return b.String()
}

// sizeLabel prints a size the way ptdump does: in the largest unit
// dividing it.
func sizeLabel(n uint64) string {
	switch {
	case n%(1<<30) == 0:
		return fmt.Sprintf("%dG", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	}
	return fmt.Sprintf("%dK", n>>10)
}

// Vmstat is the part of /proc/vmstat the model keeps.
type Vmstat struct {
	NrFreePages   uint64 `json:"nr_free_pages"`
	NrMemmapPages uint64 `json:"nr_memmap_pages"`
	// TLB flush counters (arch/x86/mm/tlb.c count_vm_tlb_event).
	NrTLBRemoteFlush         uint64 `json:"nr_tlb_remote_flush"`
	NrTLBRemoteFlushReceived uint64 `json:"nr_tlb_remote_flush_received"`
	NrTLBLocalFlushAll       uint64 `json:"nr_tlb_local_flush_all"`
	NrTLBLocalFlushOne       uint64 `json:"nr_tlb_local_flush_one"`
}

// Vmstat reports /proc/vmstat.
func (k *Kernel) Vmstat() Vmstat {
	k.mu.Lock()
	defer k.mu.Unlock()
	var v Vmstat
	for _, pg := range k.nodes {
		for i := range pg.zones {
			v.NrFreePages += pg.zones[i].free.pages
			v.NrMemmapPages += pg.zones[i].allocated[kindMemmap]
		}
	}
	v.NrMemmapPages += k.bootMemmapPages
	d := &k.dmap
	v.NrTLBRemoteFlush, v.NrTLBRemoteFlushReceived = d.tlbRemoteFlush, d.tlbRemoteFlushReceived
	v.NrTLBLocalFlushAll, v.NrTLBLocalFlushOne = d.tlbLocalFlushAll, d.tlbLocalFlushOne
	return v
}

// String formats v like /proc/vmstat.
func (v Vmstat) String() string {
	return fmt.Sprintf("nr_free_pages %d\nnr_memmap_pages %d\nnr_tlb_remote_flush %d\nnr_tlb_remote_flush_received %d\nnr_tlb_local_flush_all %d\nnr_tlb_local_flush_one %d\n",
		v.NrFreePages, v.NrMemmapPages, v.NrTLBRemoteFlush, v.NrTLBRemoteFlushReceived, v.NrTLBLocalFlushAll, v.NrTLBLocalFlushOne)
}

// checkDirectMap verifies runs are sorted and disjoint, the per-size byte
// counts add up, and every present memory block is mapped (k.mu held).
func (k *Kernel) checkDirectMap(bad func(string, ...any)) {
	d := &k.dmap
	var sum [nrLevels]uint64
	for i, r := range d.runs {
		if r.start >= r.end || i > 0 && d.runs[i-1].end > r.start {
			bad("direct map run %d [%#x-%#x) empty or out of order", i, r.start, r.end)
		}
		if r.start%levelSizes[r.level] != 0 || r.end%levelSizes[r.level] != 0 {
			bad("direct map run [%#x-%#x) not aligned to its %s pages", r.start, r.end, levelLabels[r.level])
		}
		sum[r.level] += r.end - r.start
	}
	if sum != d.bytes {
		bad("direct map bytes per size %v, runs hold %v", d.bytes, sum)
	}
	for _, b := range k.blocks {
		s, _ := k.blockRange(b)
		for _, g := range d.gaps(s*PageSize, s*PageSize+k.blockSize) {
			// Holes in a boot block are not memory; hot-added blocks are
			// present whole.
			if !b.boot {
				bad("memory%d: [mem %#x-%#x] not in the direct map", b.id, g[0], g[1]-1)
				break
			}
		}
	}
}
