package redfish

import (
	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/vm"
)

// A VM guest's memory devices are Memory resources of their own beside
// the boot memory's slot: the guest's view of them. DSP8010's
// MemoryDeviceType "Logical" ("Logical device, such as when the memory is
// fabric-attached") is the schema's value for memory that is no physical
// module; MemoryType stays DRAM, which is what backs it. CapacityMiB is
// what the guest has of the device: virtio-mem's plugged-size, a DIMM's
// size once the guest added it. The balloon is no memory device (it takes
// pages, it adds none) and has no resource; it shows in MemorySummary,
// which follows the guest's MemTotal.

// guestMemoryID is the Memory Id of the virtio-mem device (QEMU's device
// id in `-device virtio-mem-pci,id=vmem0`).
const guestMemoryID = "vmem0"

type guestMemory struct {
	odata
	ID               string   `json:"Id"`
	Name             string   `json:"Name"`
	Description      string   `json:"Description"`
	CapacityMiB      uint64   `json:"CapacityMiB"`
	MemoryType       string   `json:"MemoryType"`
	MemoryDeviceType string   `json:"MemoryDeviceType"`
	MemoryMedia      []string `json:"MemoryMedia"`
	Manufacturer     string   `json:"Manufacturer"`
	Model            string   `json:"Model"`
	Status           status   `json:"Status"`
}

// guestMemoryIDs lists the guest's device Ids in a stable order.
func guestMemoryIDs(snap *platform.Snapshot) []string {
	g := snap.Guest
	if g == nil {
		return nil
	}
	var ids []string
	if g.VirtioMem != nil {
		ids = append(ids, guestMemoryID)
	}
	if g.PCDimms != nil {
		for _, d := range g.PCDimms.Dimms {
			ids = append(ids, d.ID)
		}
	}
	return ids
}

func guestMemoryResource(snap *platform.Snapshot, id string) (guestMemory, bool) {
	g := snap.Guest
	if g == nil {
		return guestMemory{}, false
	}
	m := guestMemory{odata: odata{ID: memoryPath(id), Type: typeMemory}, ID: id, MemoryType: "DRAM",
		MemoryDeviceType: "Logical", MemoryMedia: []string{"DRAM"}, Manufacturer: "QEMU", Status: statusOK()}
	if v := g.VirtioMem; v != nil && id == guestMemoryID {
		m.Name, m.Model = "virtio-mem device "+v.Name, "virtio-mem-pci"
		m.Description = "Paravirtualised memory the hypervisor plugs in device blocks; CapacityMiB is the plugged size"
		m.CapacityMiB = v.PluggedSize >> 20
		if v.PluggedSize == 0 {
			m.Status = status{State: "StandbyOffline", Health: "OK"}
		}
		return m, true
	}
	if d := g.PCDimms; d != nil {
		for _, x := range d.Dimms {
			if x.ID == id {
				return dimmMemory(m, x), true
			}
		}
	}
	return guestMemory{}, false
}

func dimmMemory(m guestMemory, d vm.Dimm) guestMemory {
	m.Name, m.Model = "pc-dimm "+d.ID, "pc-dimm"
	m.Description = "An emulated DIMM hot-plugged through ACPI (PNP0C80 " + d.Path + ")"
	m.CapacityMiB = d.Size >> 20
	if !d.Added {
		m.Status = status{State: "UnavailableOffline", Health: "Warning"}
	}
	return m
}

// guestTotalBytes is MemorySummary's memory of a VM guest whose boot
// memory is usable bytes: plus virtio-mem's plugged size and the DIMMs
// the guest added, less the balloon (whose pages the guest no longer
// has). The boot memory's domain and chunks describe the board alone.
func guestTotalBytes(snap *platform.Snapshot, usable uint64) uint64 {
	g := snap.Guest
	if g == nil {
		return usable
	}
	n := usable
	if g.VirtioMem != nil {
		n += g.VirtioMem.PluggedSize
	}
	if g.PCDimms != nil {
		for _, d := range g.PCDimms.Dimms {
			if d.Added {
				n += d.Size
			}
		}
	}
	if g.Balloon != nil {
		n -= min(n, g.Balloon.ActualBytes)
	}
	return n
}
