package redfish

import (
	"fmt"
	"strings"

	"github.com/bmcemu/bmcemu/platform"
)

// Processors (DSP0268 Processor.v1_22_0) and the system's ProcessorSummary:
// the platform's sockets as the snapshot has them, with the package
// temperature its environment model gives.

const (
	typeProcessorCollection = "#ProcessorCollection.ProcessorCollection"
	typeProcessor           = "#Processor.v1_22_0.Processor"
)

func processorsPath() string                 { return systemPath() + "/Processors" }
func processorPath(id string) string         { return processorsPath() + "/" + id }
func ethernetInterfacesPath() string         { return systemPath() + "/EthernetInterfaces" }
func ethernetInterfacePath(id string) string { return ethernetInterfacesPath() + "/" + id }

// systemInventory is the part of the ComputerSystem that links the
// hardware inventory: embedded in computerSystem so its properties sit at
// the top level of the payload.
type systemInventory struct {
	ProcessorSummary   processorSummary `json:"ProcessorSummary"`
	Processors         link             `json:"Processors"`
	EthernetInterfaces link             `json:"EthernetInterfaces"`
	Storage            link             `json:"Storage"`
	SimpleStorage      link             `json:"SimpleStorage"`
}

// processorSummary is ComputerSystem.ProcessorSummary: Count is sockets,
// CoreCount and LogicalProcessorCount the totals (what Ironic's inspection
// reads as cpus through sushy, which sums TotalThreads itself).
type processorSummary struct {
	Count                 int    `json:"Count"`
	CoreCount             int    `json:"CoreCount"`
	LogicalProcessorCount int    `json:"LogicalProcessorCount"`
	Model                 string `json:"Model,omitempty"`
	ThreadingEnabled      bool   `json:"ThreadingEnabled"`
	// Status is deprecated in ComputerSystem 1.16 in favour of
	// Conditions, but Ansible's GetSystemInventory and bmcweb still use it.
	Status status `json:"Status"`
}

func newSystemInventory(snap *platform.Snapshot) systemInventory {
	h := &snap.Hardware
	n, cores, threads := h.ProcessorTotals()
	sum := processorSummary{Count: n, CoreCount: cores, LogicalProcessorCount: threads, ThreadingEnabled: threads > cores,
		Status: status{State: "Enabled", Health: "OK", HealthRollup: "OK"}}
	if n == 0 {
		sum.Status = status{State: "Absent"}
	}
	for i, p := range h.Processors {
		if i == 0 {
			sum.Model = p.Model
		} else if p.Model != sum.Model {
			sum.Model = "" // mixed models: no one model to name
		}
		sum.Status.HealthRollup = worseHealth(sum.Status.HealthRollup, processorHealth(p))
	}
	return systemInventory{
		ProcessorSummary:   sum,
		Processors:         link{ID: processorsPath()},
		EthernetInterfaces: link{ID: ethernetInterfacesPath()},
		Storage:            link{ID: storageCollectionPath()},
		SimpleStorage:      link{ID: simpleStorageCollectionPath()},
	}
}

type processor struct {
	odata
	ID                    string         `json:"Id"`
	Name                  string         `json:"Name"`
	Socket                string         `json:"Socket"`
	ProcessorType         string         `json:"ProcessorType"`
	ProcessorArchitecture string         `json:"ProcessorArchitecture"`
	InstructionSet        string         `json:"InstructionSet"`
	Manufacturer          string         `json:"Manufacturer"`
	Model                 string         `json:"Model"`
	SerialNumber          string         `json:"SerialNumber"`
	MaxSpeedMHz           int            `json:"MaxSpeedMHz"`
	BaseSpeedMHz          int            `json:"BaseSpeedMHz"`
	OperatingSpeedMHz     *int           `json:"OperatingSpeedMHz"`
	TotalCores            int            `json:"TotalCores"`
	TotalEnabledCores     int            `json:"TotalEnabledCores"`
	TotalThreads          int            `json:"TotalThreads"`
	TotalEnabledThreads   int            `json:"TotalEnabledThreads"`
	TDPWatts              int            `json:"TDPWatts"`
	ProcessorID           processorID    `json:"ProcessorId"`
	Location              location       `json:"Location"`
	Status                status         `json:"Status"`
	Links                 processorLinks `json:"Links"`
}

type processorID struct {
	VendorID                string `json:"VendorId,omitempty"`
	EffectiveFamily         string `json:"EffectiveFamily,omitempty"`
	EffectiveModel          string `json:"EffectiveModel,omitempty"`
	Step                    string `json:"Step,omitempty"`
	IdentificationRegisters string `json:"IdentificationRegisters,omitempty"`
	MicrocodeInfo           string `json:"MicrocodeInfo,omitempty"`
}

type processorLinks struct {
	Chassis link   `json:"Chassis"`
	Memory  []link `json:"Memory"`
}

func (s *service) getProcessors(r *request) (any, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	var members []link
	for _, p := range r.snap.Hardware.Processors {
		members = append(members, link{ID: processorPath(p.ID)})
	}
	return newCollection(processorsPath(), typeProcessorCollection, "Processor Collection", members), nil
}

func (s *service) getProcessor(r *request) (any, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	id := r.param("processor")
	p, ok := r.snap.Hardware.Processor(id)
	if !ok {
		return nil, errResourceNotFound("Processor", id)
	}
	// A host that is off runs no clock: OperatingSpeedMHz is null, as the
	// schema allows for a value the service cannot report now.
	var speed *int
	if r.snap.PowerOn {
		v := p.OperatingSpeedMHz
		speed = &v
	}
	mem := []link{}
	for _, sl := range r.snap.Slots {
		if sl.Socket == p.Socket && sl.Module != nil {
			mem = append(mem, link{ID: memoryPath(sl.Name)})
		}
	}
	return processor{
		odata:                 odata{ID: processorPath(p.ID), Type: typeProcessor},
		ID:                    p.ID,
		Name:                  "Processor " + p.ID,
		Socket:                p.ID,
		ProcessorType:         "CPU",
		ProcessorArchitecture: p.Architecture,
		InstructionSet:        p.InstructionSet,
		Manufacturer:          p.Manufacturer,
		Model:                 p.Model,
		SerialNumber:          p.SerialNumber,
		MaxSpeedMHz:           p.MaxSpeedMHz,
		BaseSpeedMHz:          p.Processor.OperatingSpeedMHz,
		OperatingSpeedMHz:     speed,
		TotalCores:            p.Cores,
		TotalEnabledCores:     p.Cores,
		TotalThreads:          p.Threads,
		TotalEnabledThreads:   p.Threads,
		TDPWatts:              p.TDPWatts,
		ProcessorID:           newProcessorID(p),
		Location:              location{PartLocation: partLocation{ServiceLabel: p.ID, LocationType: "Socket", LocationOrdinalValue: p.Socket}},
		Status:                status{State: "Enabled", Health: processorHealth(p)},
		Links:                 processorLinks{Chassis: link{ID: chassisPath()}, Memory: mem},
	}, nil
}

// processorHealth grades the package temperature against the limits the
// BMC arms (caution warns, critical and beyond is critical).
func processorHealth(p platform.Processor) string {
	switch {
	case p.TemperatureC >= platform.CPUCriticalC:
		return "Critical"
	case p.TemperatureC >= platform.CPUWarningC:
		return "Warning"
	}
	return "OK"
}

// newProcessorID renders the CPUID signature as DSP0268 describes the
// ProcessorId properties: the effective family and model, the stepping,
// and IdentificationRegisters as CPUID leaf 1 EAX (stepping [3:0], model
// [7:4], family [11:8], extended model [19:16], extended family [27:20]).
func newProcessorID(p platform.Processor) processorID {
	id := processorID{MicrocodeInfo: p.Microcode}
	switch m := strings.ToLower(p.Manufacturer); {
	case strings.Contains(m, "intel"):
		id.VendorID = "GenuineIntel"
	case strings.Contains(m, "amd"), strings.Contains(m, "advanced micro"):
		id.VendorID = "AuthenticAMD"
	}
	c := p.CPUID
	if c.Family == 0 {
		return id
	}
	id.EffectiveFamily = fmt.Sprintf("0x%X", c.Family)
	id.EffectiveModel = fmt.Sprintf("0x%X", c.Model)
	id.Step = fmt.Sprintf("0x%X", c.Stepping)
	family, extFamily := c.Family, 0
	if family > 0xF {
		family, extFamily = 0xF, c.Family-0xF
	}
	eax := c.Stepping&0xF | (c.Model&0xF)<<4 | family<<8 | (c.Model>>4&0xF)<<16 | (extFamily&0xFF)<<20
	id.IdentificationRegisters = fmt.Sprintf("0x%08X", eax)
	return id
}
