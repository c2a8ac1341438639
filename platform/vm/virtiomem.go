package vm

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/bmcemu/bmcemu/platform/kernel"
)

// virtio-mem response codes (VIRTIO_MEM_RESP_*).
const (
	respACK   = "ACK"
	respNACK  = "NACK"
	respBusy  = "BUSY"
	respError = "ERROR"
)

// virtioMem is one virtio-mem-pci device and the guest's virtio_mem driver
// bound to it. The driver picks its mode from the device block size
// (virtio_mem_init_hotplug):
//   - sub-block mode (SBM) when the sub-block, max(device block, 2 MiB
//     pageblock) = the device block here since devices take 4 MiB and up,
//     is smaller than a memory block: the driver adds whole memory blocks
//     and plugs sub-blocks of them.
//   - big block mode (BBM) otherwise: each device block is a big block of
//     one or more memory blocks, plugged and added, or offlined, removed
//     and unplugged, as one (virtio_mem_bbm_*).
type virtioMem struct {
	k    *kernel.Kernel
	name string // the virtio device, "virtio0"
	cfg  VirtioMemConfig

	// Host side (hw/virtio/virtio-mem.c): requested-size and the plugged
	// bitmap, one bit per device block.
	requested uint64
	host      []bool
	nHost     int

	// Guest side: the driver's sub-block states (equal to the host's bits
	// after every ACK) and which memory blocks it added. sbMu guards sb
	// for the online page callback, which the kernel calls with its own
	// lock held, from whichever goroutine onlines a block.
	mbSize  uint64
	sbPerMB int  // SBM: sub-blocks per memory block
	bbm     bool // big block mode: added is per big block (device block)
	sbMu    sync.Mutex
	sb      []bool
	added   []bool

	last *VirtioMemResult
	// requests counts the device requests by type and response, as
	// QEMU's trace events would.
	requests map[string]int
}

func newVirtioMem(k *kernel.Kernel, c VirtioMemConfig) (*virtioMem, error) {
	mb := k.BlockSizeBytes()
	switch {
	case c.BlockSize < MinVirtioMemBlockSize || c.BlockSize&(c.BlockSize-1) != 0:
		return nil, fmt.Errorf("virtio-mem: %w: block-size %s must be a power of two of at least %s", ErrInvalid, mib(c.BlockSize), mib(MinVirtioMemBlockSize))
	case c.RegionSize == 0 || c.RegionSize%mb != 0 || c.Addr%mb != 0:
		return nil, fmt.Errorf("virtio-mem: %w: region %#x+%s must be a non-empty multiple of the %s memory block", ErrInvalid, c.Addr, mib(c.RegionSize), mib(mb))
	case c.RegionSize%c.BlockSize != 0 || c.Addr%c.BlockSize != 0:
		// QEMU's virtio_mem_device_realize(): the memory backend's size
		// and the device's address are multiples of block-size.
		return nil, fmt.Errorf("virtio-mem: %w: region %#x+%s must be a multiple of block-size %s", ErrInvalid, c.Addr, mib(c.RegionSize), mib(c.BlockSize))
	}
	v := &virtioMem{k: k, name: "virtio0", cfg: c, mbSize: mb, bbm: c.BlockSize >= mb, requests: map[string]int{}}
	n := int(c.RegionSize / c.BlockSize)
	v.host, v.sb = make([]bool, n), make([]bool, n)
	if v.bbm {
		v.added = make([]bool, n)
	} else {
		v.sbPerMB = int(mb / c.BlockSize)
		v.added = make([]bool, n/v.sbPerMB)
	}
	if err := v.checkRequested(c.RequestedSize); err != nil {
		return nil, err
	}
	v.requested = c.RequestedSize
	if err := k.SetOnlinePageCallback(v.onlinePage); err != nil {
		return nil, fmt.Errorf("virtio-mem: %w", err)
	}
	// virtio_mem_init() prints the device's configuration.
	unit := "subblock size: " + hexSize(c.BlockSize)
	if v.bbm {
		unit = "big block size: " + hexSize(c.BlockSize)
	}
	for _, l := range []string{
		"start address: " + hexSize(c.Addr),
		"region size: " + hexSize(c.RegionSize),
		"device block size: " + hexSize(c.BlockSize),
		fmt.Sprintf("nid: %d", c.Node),
		"memory block size: " + hexSize(mb),
		unit,
		"plugged size: 0x0",
		"requested size: " + hexSize(c.RequestedSize),
	} {
		v.printk(kernel.KernInfo, "%s", l)
	}
	return v, nil
}

func (v *virtioMem) printk(level kernel.Level, format string, args ...any) {
	v.k.Printk(level, "virtio_mem "+v.name+": "+format, args...)
}

// checkRequested is QEMU's check on the requested-size property.
func (v *virtioMem) checkRequested(size uint64) error {
	return CheckRequestedSize(size, v.cfg.RegionSize, v.cfg.BlockSize)
}

// CheckRequestedSize is QEMU's check on a virtio-mem device's
// requested-size property against its region and block size.
func CheckRequestedSize(size, region, block uint64) error {
	switch {
	case block == 0 || size%block != 0:
		return fmt.Errorf("virtio-mem: %w: 'requested-size' property has to be multiples of 'block-size' (%s)", ErrInvalid, hexSize(block))
	case size > region:
		return fmt.Errorf("virtio-mem: %w: 'requested-size' (%s) exceeds the region size (%s)", ErrInvalid, mib(size), mib(region))
	}
	return nil
}

func (v *virtioMem) pluggedSize() uint64 { return uint64(v.nHost) * v.cfg.BlockSize }

// request is a device request (VIRTIO_MEM_REQ_PLUG / UNPLUG) for nb blocks
// from block first, answered as virtio_mem_state_change_request() does:
// ERROR for a range outside the usable region or in the wrong state, NACK
// for a plug beyond requested-size.
func (v *virtioMem) request(plug bool, first, nb int) string {
	typ := "UNPLUG"
	if plug {
		typ = "PLUG"
	}
	resp := func(r string) string { v.requests[typ+" "+r]++; return r }
	if first < 0 || nb <= 0 || first+nb > len(v.host) {
		return resp(respError)
	}
	for i := first; i < first+nb; i++ {
		if v.host[i] == plug {
			return resp(respError)
		}
	}
	if plug && v.pluggedSize()+uint64(nb)*v.cfg.BlockSize > v.requested {
		return resp(respNACK)
	}
	for i := first; i < first+nb; i++ {
		v.host[i] = plug
	}
	if plug {
		v.nHost += nb
	} else {
		v.nHost -= nb
	}
	return resp(respACK)
}

// onlinePage is the driver's online page callback
// (virtio_mem_online_page_cb): sub-blocks the device has not plugged stay
// PG_offline.
func (v *virtioMem) onlinePage(startPFN, nrPages uint64) []kernel.PFNRange {
	s, e := startPFN*kernel.PageSize, (startPFN+nrPages)*kernel.PageSize
	lo, hi := v.cfg.Addr, v.cfg.Addr+v.cfg.RegionSize
	if e <= lo || s >= hi {
		return nil
	}
	v.sbMu.Lock()
	defer v.sbMu.Unlock()
	var out []kernel.PFNRange
	// Device blocks from the one holding the range's start; a big block
	// (BBM) spans several memory blocks, so each range is clipped to the
	// pages asked about.
	bs := v.cfg.BlockSize
	for a := lo + (max(s, lo)-lo)/bs*bs; a < min(e, hi); a += bs {
		if !v.sb[(a-lo)/bs] {
			from, to := max(a, s), min(a+bs, e)
			out = append(out, kernel.PFNRange{Start: from / kernel.PageSize, Pages: (to - from) / kernel.PageSize})
		}
	}
	return out
}

func (v *virtioMem) setSB(i int, plugged bool) {
	v.sbMu.Lock()
	v.sb[i] = plugged
	v.sbMu.Unlock()
}

func (v *virtioMem) sbAddr(i int) uint64 { return v.cfg.Addr + uint64(i)*v.cfg.BlockSize }
func (v *virtioMem) mbAddr(m int) uint64 { return v.cfg.Addr + uint64(m)*v.mbSize }

// VirtioMemResult is what the driver did for one requested-size change.
type VirtioMemResult struct {
	RequestedSize uint64 `json:"requested_size"`
	PluggedSize   uint64 `json:"plugged_size"`
	Plugged       uint64 `json:"plugged_bytes"`
	Unplugged     uint64 `json:"unplugged_bytes"`
	AddedBlocks   int    `json:"added_blocks"`
	RemovedBlocks int    `json:"removed_blocks"`
	// Reason says why plugged-size did not reach requested-size (empty
	// when it did); Refused lists what the guest could not give back.
	Reason  string          `json:"reason,omitempty"`
	Refused []UnplugRefusal `json:"refused,omitempty"`
}

// UnplugRefusal is a sub-block range the guest could not unplug.
type UnplugRefusal struct {
	Block  int    `json:"block"` // memoryN
	Start  uint64 `json:"start"`
	Size   uint64 `json:"size"`
	Reason string `json:"reason"`
}

func (v *virtioMem) setRequested(size uint64) (VirtioMemResult, error) {
	if err := v.checkRequested(size); err != nil {
		return VirtioMemResult{}, err
	}
	v.requested = size
	return v.run(), nil
}

// run is virtio_mem_run_wq(): plug or unplug toward requested-size.
func (v *virtioMem) run() VirtioMemResult {
	r := VirtioMemResult{RequestedSize: v.requested}
	switch p := v.pluggedSize(); {
	case v.requested > p && v.bbm:
		v.plugBBM((v.requested-p)/v.cfg.BlockSize, &r)
	case v.requested > p:
		v.plug((v.requested-p)/v.cfg.BlockSize, &r)
	case v.requested < p && v.bbm:
		v.unplugBBM((p-v.requested)/v.cfg.BlockSize, &r)
	case v.requested < p:
		v.unplug((p-v.requested)/v.cfg.BlockSize, &r)
	}
	r.PluggedSize = v.pluggedSize()
	if r.PluggedSize != v.requested && r.Reason == "" {
		r.Reason = fmt.Sprintf("plugged size %s, requested %s", mib(r.PluggedSize), mib(v.requested))
	}
	if r.Reason != "" {
		v.printk(kernel.KernWarning, "could not reach the requested size %s (plugged %s): %s", hexSize(v.requested), hexSize(r.PluggedSize), r.Reason)
	}
	v.last = &r
	return r
}

// plug is virtio_mem_sbm_plug_request(): fill memory blocks already added
// first (virtio_mem_sbm_plug_any_sb: a sub-block of an online block goes
// to the buddy through virtio_mem_fake_online), then plug and add new
// memory blocks (virtio_mem_sbm_plug_and_add_mb), lowest address first.
func (v *virtioMem) plug(nsb uint64, r *VirtioMemResult) {
	for m := 0; m < len(v.added) && nsb > 0; m++ {
		if !v.added[m] {
			continue
		}
		for i := m * v.sbPerMB; i < (m+1)*v.sbPerMB && nsb > 0; i++ {
			if v.sb[i] {
				continue
			}
			if resp := v.request(true, i, 1); resp != respACK {
				r.Reason = "device answered " + resp + " to a plug request"
				return
			}
			v.setSB(i, true)
			// An offline block's sub-block waits for the block to be
			// onlined; an online one's goes to the buddy now.
			if b, ok := v.k.Block(v.k.BlockForAddr(v.sbAddr(i))); ok && b.State == "online" {
				if err := v.k.FakeOnline(v.sbAddr(i), v.cfg.BlockSize); err != nil {
					v.printk(kernel.KernErr, "fake online of %s failed: %v", hexSize(v.sbAddr(i)), err)
				}
			}
			r.Plugged += v.cfg.BlockSize
			nsb--
		}
	}
	for m := 0; m < len(v.added) && nsb > 0; m++ {
		if v.added[m] {
			continue
		}
		n := min(nsb, uint64(v.sbPerMB))
		first := m * v.sbPerMB
		if resp := v.request(true, first, int(n)); resp != respACK {
			r.Reason = "device answered " + resp + " to a plug request"
			return
		}
		for i := first; i < first+int(n); i++ {
			v.setSB(i, true)
		}
		err := v.k.AddMemoryDriverManaged(v.cfg.Node, v.mbAddr(m), v.mbSize, "System RAM (virtio_mem)", true)
		if err != nil {
			// virtio_mem_sbm_plug_and_add_mb(): undo the plug.
			for i := first; i < first+int(n); i++ {
				v.setSB(i, false)
			}
			v.request(false, first, int(n))
			v.printk(kernel.KernErr, "adding memory block %d failed: %v", v.k.BlockForAddr(v.mbAddr(m)), err)
			r.Reason = "add_memory_driver_managed: " + reasonOf(err)
			return
		}
		v.added[m] = true
		r.AddedBlocks++
		r.Plugged += n * v.cfg.BlockSize
		nsb -= n
	}
}

// unplug is virtio_mem_sbm_unplug_request(): memory blocks by state in
// the driver's order (offline first, then online movable, then online
// kernel), each the highest address first; a sub-block of an online
// block must first be taken from the guest (virtio_mem_fake_offline), and
// a block left without plugged sub-blocks is offlined and removed
// (virtio_mem_sbm_try_remove_unplugged_mb). What refuses is skipped and
// reported; plugged-size then stays above requested-size.
func (v *virtioMem) unplug(nsb uint64, r *VirtioMemResult) {
	type cand struct {
		m    int
		rank int
	}
	var cands []cand
	for m := range v.added {
		if !v.added[m] {
			continue
		}
		b, _ := v.k.Block(v.k.BlockForAddr(v.mbAddr(m)))
		rank := 2
		switch {
		case b.State == "offline":
			rank = 0
		case b.OnlineType == kernel.OnlineMovable:
			rank = 1
		}
		cands = append(cands, cand{m, rank})
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].rank != cands[j].rank {
			return cands[i].rank < cands[j].rank
		}
		return cands[i].m > cands[j].m
	})
	refused := map[int]*UnplugRefusal{}
	for _, c := range cands {
		if nsb == 0 {
			break
		}
		online := c.rank > 0
		for i := (c.m+1)*v.sbPerMB - 1; i >= c.m*v.sbPerMB && nsb > 0; i-- {
			if !v.sb[i] {
				continue
			}
			if online {
				if err := v.k.FakeOffline(v.sbAddr(i), v.cfg.BlockSize); err != nil {
					blk := v.k.BlockForAddr(v.sbAddr(i))
					if rf := refused[blk]; rf != nil && rf.Start == v.sbAddr(i)+v.cfg.BlockSize {
						rf.Start, rf.Size = v.sbAddr(i), rf.Size+v.cfg.BlockSize
					} else if rf == nil {
						refused[blk] = &UnplugRefusal{Block: blk, Start: v.sbAddr(i), Size: v.cfg.BlockSize, Reason: reasonOf(err)}
					} else {
						rf.Size += v.cfg.BlockSize
					}
					continue
				}
			}
			if resp := v.request(false, i, 1); resp != respACK {
				if online {
					_ = v.k.FakeOnline(v.sbAddr(i), v.cfg.BlockSize)
				}
				r.Reason = "device answered " + resp + " to an unplug request"
				return
			}
			v.setSB(i, false)
			r.Unplugged += v.cfg.BlockSize
			nsb--
		}
		if v.anyPlugged(c.m) {
			continue
		}
		if err := v.removeMB(c.m, online); err != nil {
			v.printk(kernel.KernWarning, "removing memory block %d failed: %v", v.k.BlockForAddr(v.mbAddr(c.m)), err)
			continue
		}
		r.RemovedBlocks++
	}
	if nsb > 0 {
		var parts []string
		for _, rf := range refused {
			r.Refused = append(r.Refused, *rf)
		}
		sort.Slice(r.Refused, func(i, j int) bool { return r.Refused[i].Start < r.Refused[j].Start })
		for _, rf := range r.Refused {
			parts = append(parts, fmt.Sprintf("memory%d [mem %#010x-%#010x]: %s", rf.Block, rf.Start, rf.Start+rf.Size-1, rf.Reason))
		}
		r.Reason = fmt.Sprintf("%s could not be unplugged", mib(nsb*v.cfg.BlockSize))
		if len(parts) > 0 {
			r.Reason += ": " + strings.Join(parts, "; ")
		}
	}
}

// bbAddr is big block b's address (BBM).
func (v *virtioMem) bbAddr(b int) uint64 { return v.cfg.Addr + uint64(b)*v.cfg.BlockSize }

// plugBBM is virtio_mem_bbm_plug_request(): unused big blocks, lowest
// address first, each plugged and then added whole
// (virtio_mem_bbm_plug_and_add_bb); an add that fails unplugs its block
// again.
func (v *virtioMem) plugBBM(nbb uint64, r *VirtioMemResult) {
	perBB := int(v.cfg.BlockSize / v.mbSize)
	for b := 0; b < len(v.added) && nbb > 0; b++ {
		if v.added[b] {
			continue
		}
		if resp := v.request(true, b, 1); resp != respACK {
			r.Reason = "device answered " + resp + " to a plug request"
			return
		}
		v.setSB(b, true)
		if err := v.k.AddMemoryDriverManaged(v.cfg.Node, v.bbAddr(b), v.cfg.BlockSize, "System RAM (virtio_mem)", true); err != nil {
			v.setSB(b, false)
			v.request(false, b, 1)
			v.printk(kernel.KernErr, "adding big block %d failed: %v", b, err)
			r.Reason = "add_memory_driver_managed: " + reasonOf(err)
			return
		}
		v.added[b] = true
		r.AddedBlocks += perBB
		r.Plugged += v.cfg.BlockSize
		nbb--
	}
}

// unplugBBM is virtio_mem_bbm_unplug_request(): added big blocks in three
// passes (all memory blocks offline, then all online ones movable, then
// the rest), each the highest address first; a big block is offlined and
// removed whole (offline_and_remove_memory, which onlines again what it
// offlined when one block refuses) and only then unplugged. A refused big
// block is skipped (-EBUSY) and reported.
func (v *virtioMem) unplugBBM(nbb uint64, r *VirtioMemResult) {
	perBB := int(v.cfg.BlockSize / v.mbSize)
	rank := func(b int) int {
		offline, movable := true, true
		for i := range perBB {
			blk, _ := v.k.Block(v.k.BlockForAddr(v.bbAddr(b) + uint64(i)*v.mbSize))
			if blk.State != "offline" {
				offline = false
				if blk.OnlineType != kernel.OnlineMovable {
					movable = false
				}
			}
		}
		switch {
		case offline:
			return 0
		case movable:
			return 1
		}
		return 2
	}
	// As in sub-block mode, refusals are reported only when they left
	// the device short of requested-size.
	var refused []UnplugRefusal
	for pass := 0; pass < 3 && nbb > 0; pass++ {
		for b := len(v.added) - 1; b >= 0 && nbb > 0; b-- {
			if !v.added[b] || rank(b) != pass {
				continue
			}
			if blk, err := v.k.OfflineAndRemoveMemory(v.bbAddr(b), v.cfg.BlockSize); err != nil {
				if blk < 0 {
					blk = v.k.BlockForAddr(v.bbAddr(b))
				}
				refused = append(refused, UnplugRefusal{Block: blk, Start: v.bbAddr(b), Size: v.cfg.BlockSize, Reason: reasonOf(err)})
				continue
			}
			v.added[b] = false
			r.RemovedBlocks += perBB
			if resp := v.request(false, b, 1); resp != respACK {
				// Removed but still plugged: the device keeps the block
				// until a later request succeeds.
				r.Reason = "device answered " + resp + " to an unplug request"
				return
			}
			v.setSB(b, false)
			r.Unplugged += v.cfg.BlockSize
			nbb--
		}
	}
	if nbb > 0 {
		r.Refused = refused
		sort.Slice(r.Refused, func(i, j int) bool { return r.Refused[i].Start < r.Refused[j].Start })
		parts := make([]string, 0, len(r.Refused))
		for _, rf := range r.Refused {
			parts = append(parts, fmt.Sprintf("big block [mem %#010x-%#010x] (memory%d): %s", rf.Start, rf.Start+rf.Size-1, rf.Block, rf.Reason))
		}
		r.Reason = fmt.Sprintf("%s could not be unplugged", mib(nbb*v.cfg.BlockSize))
		if len(parts) > 0 {
			r.Reason += ": " + strings.Join(parts, "; ")
		}
	}
}

func (v *virtioMem) anyPlugged(m int) bool {
	for i := m * v.sbPerMB; i < (m+1)*v.sbPerMB; i++ {
		if v.sb[i] {
			return true
		}
	}
	return false
}

// removeMB is offline_and_remove_memory() on a block with no plugged
// sub-block left.
func (v *virtioMem) removeMB(m int, online bool) error {
	id := v.k.BlockForAddr(v.mbAddr(m))
	if online {
		if err := v.k.OfflineBlock(id); err != nil {
			return err
		}
	}
	if err := v.k.RemoveMemory(v.mbAddr(m), v.mbSize); err != nil {
		return err
	}
	v.added[m] = false
	return nil
}

func reasonOf(err error) string {
	var e *kernel.Error
	if errors.As(err, &e) && e.Msg != "" {
		return e.Errno.Name() + ": " + e.Msg
	}
	return err.Error()
}

// VirtioMemStatus is the device's configuration space and the driver's
// state.
type VirtioMemStatus struct {
	Name             string `json:"name"`
	Node             int    `json:"node"`
	Addr             uint64 `json:"addr"`
	RegionSize       uint64 `json:"region_size"`
	UsableRegionSize uint64 `json:"usable_region_size"`
	BlockSize        uint64 `json:"block_size"`
	// Mode is the driver's: "sbm" (sub-block mode) or "bbm" (big block
	// mode, device blocks larger than a memory block).
	Mode string `json:"mode"`
	// SubblockSize (SBM) or BigBlockSize (BBM) is the unit the driver
	// plugs and unplugs.
	SubblockSize    uint64 `json:"subblock_size,omitempty"`
	BigBlockSize    uint64 `json:"big_block_size,omitempty"`
	MemoryBlockSize uint64 `json:"memory_block_size"`
	RequestedSize   uint64 `json:"requested_size"`
	PluggedSize     uint64 `json:"plugged_size"`
	// AddedBlocks are the memory blocks the driver added (memoryN ids).
	AddedBlocks []int            `json:"added_blocks"`
	Requests    map[string]int   `json:"requests"`
	Last        *VirtioMemResult `json:"last,omitempty"`
}

func (v *virtioMem) status() VirtioMemStatus {
	st := VirtioMemStatus{Name: v.name, Node: v.cfg.Node, Addr: v.cfg.Addr, RegionSize: v.cfg.RegionSize,
		UsableRegionSize: v.cfg.RegionSize, BlockSize: v.cfg.BlockSize, Mode: "sbm", SubblockSize: v.cfg.BlockSize,
		MemoryBlockSize: v.mbSize, RequestedSize: v.requested, PluggedSize: v.pluggedSize(),
		AddedBlocks: []int{}, Requests: map[string]int{}, Last: v.last}
	if v.bbm {
		st.Mode, st.SubblockSize, st.BigBlockSize = "bbm", 0, v.cfg.BlockSize
	}
	for u, a := range v.added {
		switch {
		case !a:
		case v.bbm:
			for i := uint64(0); i < v.cfg.BlockSize/v.mbSize; i++ {
				st.AddedBlocks = append(st.AddedBlocks, v.k.BlockForAddr(v.bbAddr(u)+i*v.mbSize))
			}
		default:
			st.AddedBlocks = append(st.AddedBlocks, v.k.BlockForAddr(v.mbAddr(u)))
		}
	}
	for k, n := range v.requests {
		st.Requests[k] = n
	}
	return st
}
