// Package cxl models CXL type-3 memory expanders and the Linux CXL driver
// stack that brings them up, over platform/kernel and platform/iommu.
//
// The hardware side is what a host bridge, its hot-plug root port and an
// expander card expose: the slot's presence, power and attention button
// (PCIe Base 6.0 §6.7), the device's BAR, its DOE mailbox serving the CDAT
// (CXL 3.1 §8.1.11), and HDM decoders that must be programmed and committed
// in order before the host physical address range decodes to the device
// (CXL 3.1 §8.2.4.20). The host bridge's window is whatever firmware put in
// the CEDT; nothing here can grow it.
//
// The OS side imitates drivers/pci/hotplug/pciehp_ctrl.c (button, power,
// link), drivers/cxl/pci.c (cxl_pci probe, CDAT over DOE),
// drivers/cxl/core/region.c (HPA allocation in a root decoder, decoder
// programming and commit, cxl_region_perf_attrs_callback), drivers/dax/kmem.c
// (add_memory_driver_managed with "System RAM (kmem)") and daxctl's onlining
// policy (ZONE_MOVABLE unless told otherwise), and the DMA API's treatment of
// an untrusted device through platform/iommu. Every request runs to
// completion before it returns, as in platform/vm: where Linux defers to a
// workqueue (pciehp's five-second button window included) the model runs
// the work at once and logs what Linux would have logged.
package cxl
