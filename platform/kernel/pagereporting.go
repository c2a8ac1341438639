package kernel

// Free page reporting (mm/page_reporting.c). A reporting device
// (virtio-balloon with VIRTIO_BALLOON_F_REPORTING) registers with an
// order; when freeing pages leaves a zone with more free memory in blocks
// of that order and up, the buddy allocator calls
// page_reporting_notify_free(), which schedules the device's reporting
// pass after PAGE_REPORTING_DELAY instead of reporting on the spot, so a
// burst of frees costs one pass.

type pageReporting struct {
	order  int
	notify func()
}

// RegisterPageReporting is page_reporting_register(): notify runs when a
// free grows the free blocks of order and up. It runs with the kernel's
// lock held, inside the free: it must only schedule work (arm a timer),
// never call back into the kernel. One device at a time, as in Linux.
func (k *Kernel) RegisterPageReporting(order int, notify func()) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.reporting = &pageReporting{order: min(max(order, 0), MaxOrder-1), notify: notify}
}

// UnregisterPageReporting is page_reporting_unregister().
func (k *Kernel) UnregisterPageReporting() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.reporting = nil
}

// freeFromOrder is z's free memory in blocks of order and up, in pages.
func (z *zone) freeFromOrder(order int) uint64 {
	var n uint64
	for o := order; o < MaxOrder; o++ {
		n += z.free.nrFree[o] << o
	}
	return n
}
