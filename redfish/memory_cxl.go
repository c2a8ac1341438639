package redfish

import (
	"fmt"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/cxl"
)

// A seated CXL expander's memory is a Memory resource of the system,
// named after its slot, beside the DIMM slots: DRAM behind a CXL link,
// whatever the driver made of it. MemoryDeviceType is left out: the
// schema's values are SMBIOS module generations and the card does not say
// which DRAM it carries. The CXL object (Memory v1_17_0) is left out too:
// its properties are the label storage area and partitioning staged for
// the next activation, neither of which the modelled device has. Memory
// v1_23_0 Links has no PCIe link; MemoryRegionMediaSources names the
// region the memory comes from, and through it the device.
//
// MemorySummary counts what of this memory the OS has online (kmem added
// it as System RAM in a CPU-less node): TotalSystemMemoryGiB is the
// general-purpose volatile memory the OS can use, and a region's online
// blocks are that as much as a hot-added DIMM's are. A seated card whose
// memory is not mapped, or mapped but offline, adds nothing.

type cxlMemory struct {
	odata
	ID           string         `json:"Id"`
	Name         string         `json:"Name"`
	Description  string         `json:"Description"`
	CapacityMiB  uint64         `json:"CapacityMiB"`
	MemoryType   string         `json:"MemoryType"`
	MemoryMedia  []string       `json:"MemoryMedia"`
	Manufacturer string         `json:"Manufacturer,omitempty"`
	SerialNumber string         `json:"SerialNumber"`
	Location     location       `json:"Location"`
	Status       cxlStatus      `json:"Status"`
	Links        cxlMemoryLinks `json:"Links"`
}

type cxlMemoryLinks struct {
	Chassis                       link   `json:"Chassis"`
	MemoryRegionMediaSources      []link `json:"MemoryRegionMediaSources,omitempty"`
	MemoryRegionMediaSourcesCount *int   `json:"MemoryRegionMediaSources@odata.count,omitempty"`
}

// cxlMemoryIDs lists the Memory Ids of the seated expanders.
func cxlMemoryIDs(snap *platform.Snapshot) []string {
	var ids []string
	for _, sl := range cxlSeated(snap) {
		ids = append(ids, sl.Slot)
	}
	return ids
}

func cxlMemoryResource(snap *platform.Snapshot, id string) (cxlMemory, bool) {
	sl, ok := cxlCard(snap, id)
	if !ok {
		return cxlMemory{}, false
	}
	d := sl.Device
	m := cxlMemory{
		odata:        odata{ID: memoryPath(sl.Slot), Type: typeMemory},
		ID:           sl.Slot,
		Name:         "CXL memory expander in " + sl.Slot,
		Description:  cxlMemoryDescription(sl),
		CapacityMiB:  d.Spec.Capacity >> 20,
		MemoryType:   "DRAM",
		MemoryMedia:  []string{"DRAM"},
		Manufacturer: pciVendorName(d.VendorID),
		SerialNumber: deviceSerial(d.Spec.Serial),
		Location: location{PartLocation: partLocation{
			ServiceLabel: sl.Slot, LocationType: "Slot", LocationOrdinalValue: sl.Number}},
		Status: cxlMemoryStatus(sl),
		Links:  cxlMemoryLinks{Chassis: link{ID: chassisPath()}},
	}
	if rg := d.Region; rg != nil {
		m.Links.MemoryRegionMediaSources = links(memoryRegionPath(sl.Slot, rg.Name))
		m.Links.MemoryRegionMediaSourcesCount = ptr(1)
	}
	return m, true
}

// cxlMemoryDescription says what the OS did with the memory.
func cxlMemoryDescription(sl cxl.SlotStatus) string {
	d := sl.Device
	rg := d.Region
	switch {
	case rg != nil:
		return fmt.Sprintf("Volatile memory of the CXL type-3 device %s: %s, %d MiB online in NUMA node %d",
			d.BDF, rg.Name, rg.OnlineBytes>>20, rg.Node)
	case sl.State == cxl.StatePresent:
		return "Volatile memory of a CXL type-3 device whose slot is powered off"
	}
	return "Volatile memory of the CXL type-3 device " + d.BDF + ", not mapped"
}

// cxlOnlineBytes is the expanders' memory the OS has online.
func cxlOnlineBytes(snap *platform.Snapshot) uint64 {
	var n uint64
	for _, sl := range cxlSeated(snap) {
		if rg := sl.Device.Region; rg != nil {
			n += rg.OnlineBytes
		}
	}
	return n
}

// cxlDeviceCount is PCIeDevices@odata.count: absent (with the array) on a
// server without expanders seated.
func cxlDeviceCount(snap *platform.Snapshot) *int {
	if n := len(cxlSeated(snap)); n > 0 {
		return &n
	}
	return nil
}
