package platform

import (
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/kernel"
)

// machineCheck is what the host sees once a surprise removal left ways of
// its boot memory decoding to no module (the firmware's "map-out"): the
// patrol scrubber reaches the lowest of them first, the memory controller
// reports an uncorrectable error with a valid address (SRAO), Linux's MCE
// handler logs it, the EDAC driver names the DIMM, and memory_failure()
// poisons the page. The other pages of the lost ways stay System RAM as
// far as the kernel knows (Linux cannot remove interleaved boot memory)
// and fail one by one as they are scrubbed or touched; the model reports
// the first. The BMC logs the uncorrectable error against the slot.
//
// Called from the firmware's effects, without firmware locks, inside the
// operator command that pulled the module, on the boot's layers l.
func (p *Platform) machineCheck(l *layers, am events.AddressMapUpdated) {
	i, ok := p.byName[am.Slot]
	if !ok {
		return
	}
	s := p.slots[i]
	mem := p.prof.Memory
	mc := s.Socket*mem.ControllersPerSocket + s.Controller
	ch := s.Channel - s.Controller*mem.ChannelsPerController
	pfn := am.Base / kernel.PageSize
	l.kern.Printk(kernel.KernInfo, "mce: [Hardware Error]: Machine check events logged")
	l.kern.Printk(kernel.KernEmerg, "EDAC MC%d: 1 UE memory scrubbing error on %s (channel:%d slot:%d page:%#x offset:%#x grain:32 - no DIMM responded)",
		mc, am.Slot, ch, s.Position-1, pfn, am.Base%kernel.PageSize)
	// Its outcome is in the log it writes; an Ignored result (a kernel
	// page) is what it is: the model keeps the host running.
	_, _ = l.kern.MemoryFailure(pfn)
	// Published after memory_failure() so the snapshot it rebuilds
	// carries the poisoned page.
	p.publish(p.clock.Now(), events.MemoryUncorrectableError{Slot: am.Slot, Rank: 0, Address: 0})
}
