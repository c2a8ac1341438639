package vm

import (
	"fmt"
	"time"

	"github.com/bmcemu/bmcemu/platform/kernel"
)

// balloonOrder is the size of one model allocation: 256 pages (1 MiB),
// VIRTIO_BALLOON_ARRAY_PFNS_MAX, the most page frames one inflate or
// deflate virtqueue buffer carries. Linux allocates those pages one by one
// (order 0); the model takes them as one block when the buddy has one and
// falls back to smaller blocks, so a fragmented guest still inflates.
const balloonOrder = 8

// PageReportingOrder is page_reporting_order's default, pageblock_order:
// free page reporting hands the host free blocks of 2 MiB and up.
const PageReportingOrder = 9

// PageReportingDelay is PAGE_REPORTING_DELAY (2*HZ): a free that grows the
// reportable free memory schedules the next pass this long after it.
const PageReportingDelay = 2 * time.Second

// balloon is a virtio-balloon-pci device and the guest's virtio_balloon
// driver. The device knows only a page count (num_pages, set from the
// monitor's target, and actual, reported by the guest); it has no notion
// of where pages come from, so inflation has no NUMA placement, and
// nothing is added or removed: the memory blocks, /proc/iomem and
// /sys/firmware/memmap stay as they are.
type balloon struct {
	k   *kernel.Kernel
	cfg BalloonConfig

	numPages uint64 // the device's target
	held     []balloonBuf
	actual   uint64 // pages in the balloon
	last     *BalloonResult

	// Free page reporting (mm/page_reporting.c through the reporting
	// virtqueue): the host discards what is reported.
	reported      uint64 // bytes the last pass reported
	reportedTotal uint64
	passes        int
}

type balloonBuf struct {
	h     kernel.Handle
	pages uint64
}

func newBalloon(k *kernel.Kernel, c BalloonConfig) *balloon {
	return &balloon{k: k, cfg: c}
}

// BalloonResult is what the driver did for one target.
type BalloonResult struct {
	TargetBytes  uint64 `json:"target_bytes"`
	NumPages     uint64 `json:"num_pages"`
	ActualPages  uint64 `json:"actual_pages"`
	Inflated     uint64 `json:"inflated_pages"`
	Deflated     uint64 `json:"deflated_pages"`
	MemTotalKiB  uint64 `json:"memtotal_kib"`
	Reason       string `json:"reason,omitempty"`
	DeflateOnOOM bool   `json:"deflate_on_oom"`
}

// setTarget is qmp_balloon(): the target is the guest memory wanted; the
// device asks for (ram_size - target) pages, a target above ram_size
// meaning an empty balloon (QEMU clamps it). The driver's
// update_balloon_size_func then fills or leaks toward it.
func (b *balloon) setTarget(target, ramSize uint64) (BalloonResult, error) {
	if target == 0 || target%kernel.PageSize != 0 {
		return BalloonResult{}, fmt.Errorf("balloon: %w: target %d bytes must be a positive multiple of %d", ErrInvalid, target, kernel.PageSize)
	}
	target = min(target, ramSize)
	b.numPages = (ramSize - target) / kernel.PageSize
	r := BalloonResult{TargetBytes: target, NumPages: b.numPages, DeflateOnOOM: b.cfg.DeflateOnOOM}
	for b.actual < b.numPages {
		want := b.numPages - b.actual
		if !b.fill(want, &r) {
			break
		}
	}
	for b.actual > b.numPages {
		b.leak(b.actual-b.numPages, &r)
	}
	r.ActualPages = b.actual
	r.MemTotalKiB = b.k.Meminfo().MemTotal
	b.last = &r
	return r, nil
}

// fill is fill_balloon(): one virtqueue buffer at a time. It reports
// false when the guest has no page to give ("Out of puff!").
func (b *balloon) fill(want uint64, r *BalloonResult) bool {
	n := min(want, 1<<balloonOrder)
	order := balloonOrder
	for order > 0 && uint64(1)<<order > n {
		order--
	}
	for {
		h, err := b.k.BalloonInflate(order, !b.cfg.DeflateOnOOM)
		if err == nil {
			p := uint64(1) << order
			b.held = append(b.held, balloonBuf{h, p})
			b.actual += p
			r.Inflated += p
			return true
		}
		if order == 0 {
			b.k.Printk(kernel.KernInfo, "virtio_balloon virtio1: Out of puff! Can't get 1 pages")
			r.Reason = fmt.Sprintf("the guest has no free page above its watermarks: %d of %d pages inflated", b.actual, b.numPages)
			return false
		}
		order--
	}
}

// leak is leak_balloon(): the most recently inflated pages go back first
// (balloon_page_dequeue), a whole buffer at a time; a buffer larger than
// what is to be leaked stays whole, as the model allocates in blocks.
func (b *balloon) leak(want uint64, r *BalloonResult) {
	for want > 0 && len(b.held) > 0 {
		buf := b.held[len(b.held)-1]
		if buf.pages > want && b.actual-buf.pages < b.numPages {
			// Splitting is not modelled: leave the balloon just above
			// the target rather than below it.
			r.Reason = fmt.Sprintf("the balloon deflates in buffers of up to %d pages: %d pages above the target", buf.pages, want)
			return
		}
		if err := b.k.BalloonDeflate(buf.h); err != nil {
			r.Reason = "deflate: " + err.Error()
			return
		}
		b.held = b.held[:len(b.held)-1]
		b.actual -= buf.pages
		r.Deflated += buf.pages
		want -= min(want, buf.pages)
	}
}

// report is one page_reporting_process() pass: free blocks of
// page_reporting_order and up are reported, the host discards them. The
// model does not mark pages PageReported: each pass reports what is free
// now, and the cumulative counter grows by what is newly free since the
// last pass.
func (b *balloon) report() error {
	if !b.cfg.FreePageReporting {
		return fmt.Errorf("free page reporting: %w: the balloon lacks VIRTIO_BALLOON_F_REPORTING", ErrNoDevice)
	}
	now := b.k.FreeBytesFromOrder(PageReportingOrder)
	if now > b.reported {
		b.reportedTotal += now - b.reported
	}
	b.reported = now
	b.passes++
	return nil
}

// BalloonStatus is the device's state and the host's counters.
type BalloonStatus struct {
	NumPages          uint64         `json:"num_pages"`
	ActualPages       uint64         `json:"actual_pages"`
	ActualBytes       uint64         `json:"actual_bytes"`
	DeflateOnOOM      bool           `json:"deflate_on_oom"`
	FreePageReporting bool           `json:"free_page_reporting"`
	ReportedBytes     uint64         `json:"reported_bytes"`
	ReportedTotal     uint64         `json:"reported_total_bytes"`
	ReportPasses      int            `json:"report_passes"`
	HostResident      uint64         `json:"host_resident_bytes"`
	Last              *BalloonResult `json:"last,omitempty"`
}

// status reports the device; HostResident is the guest RAM the host still
// backs: all of it but the balloon and what was last reported free.
func (b *balloon) status(ramSize uint64) BalloonStatus {
	st := BalloonStatus{NumPages: b.numPages, ActualPages: b.actual, ActualBytes: b.actual * kernel.PageSize,
		DeflateOnOOM: b.cfg.DeflateOnOOM, FreePageReporting: b.cfg.FreePageReporting,
		ReportedBytes: b.reported, ReportedTotal: b.reportedTotal, ReportPasses: b.passes, Last: b.last}
	if used := st.ActualBytes + b.reported; used < ramSize {
		st.HostResident = ramSize - used
	}
	return st
}
