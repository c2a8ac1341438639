package redfish

import (
	"github.com/bmcemu/bmcemu/platform"
)

type computerSystem struct {
	odata
	ID            string        `json:"Id"`
	Name          string        `json:"Name"`
	SystemType    string        `json:"SystemType"`
	Manufacturer  string        `json:"Manufacturer"`
	Model         string        `json:"Model"`
	SerialNumber  string        `json:"SerialNumber"`
	PartNumber    string        `json:"PartNumber,omitempty"`
	UUID          string        `json:"UUID"`
	PowerState    string        `json:"PowerState"`
	BiosVersion   string        `json:"BiosVersion,omitempty"`
	Status        status        `json:"Status"`
	MemorySummary memorySummary `json:"MemorySummary"`
	Memory        link          `json:"Memory"`
	Links         systemLinks   `json:"Links"`
}

type memorySummary struct {
	TotalSystemMemoryGiB float64 `json:"TotalSystemMemoryGiB"`
	MemoryMirroring      string  `json:"MemoryMirroring"`
	// Status is deprecated in favour of Conditions but is still what
	// clients and bmcweb read.
	Status status `json:"Status"`
}

type systemLinks struct {
	Chassis   []link `json:"Chassis"`
	ManagedBy []link `json:"ManagedBy"`
}

func (s *service) getSystems(*request) (any, error) {
	return newCollection(pathSystems, typeSystemCollection, "Computer System Collection", links(systemPath())), nil
}

// lookupSystem resolves the :system segment shared by the system's
// subordinate resources.
func lookupSystem(r *request) error {
	if id := r.param("system"); id != systemID {
		return errResourceNotFound("ComputerSystem", id)
	}
	return nil
}

func (s *service) getSystem(r *request) (any, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	snap := r.snap
	sys := snap.System
	st := statusOK()
	if !snap.PowerOn {
		// The host is present and healthy but waits for power.
		st.State = "StandbyOffline"
	}
	return computerSystem{
		odata:        odata{ID: systemPath(), Type: typeSystem},
		ID:           systemID,
		Name:         sys.Model,
		SystemType:   "Physical",
		Manufacturer: sys.Manufacturer,
		Model:        sys.Model,
		SerialNumber: sys.SerialNumber,
		PartNumber:   sys.PartNumber,
		UUID:         systemUUID(sys.SerialNumber),
		PowerState:   powerState(snap.PowerOn),
		BiosVersion:  sys.BIOSVersion,
		Status:       st,
		MemorySummary: memorySummary{
			TotalSystemMemoryGiB: totalMemoryGiB(snap),
			// Mirroring is a capability the RAS layer will report; until
			// then the board offers none.
			MemoryMirroring: "None",
			Status:          statusOK(),
		},
		Memory: link{ID: memoryCollectionPath()},
		Links: systemLinks{
			Chassis:   links(chassisPath()),
			ManagedBy: links(managerPath()),
		},
	}, nil
}

// totalMemoryGiB sums the seated modules. Once mirroring and sparing exist
// this must subtract what they hide from the OS, per the property's
// definition.
func totalMemoryGiB(snap *platform.Snapshot) float64 {
	var mib uint64
	for _, sl := range snap.Slots {
		if sl.Module != nil {
			mib += sl.Module.SPD.CapacityMiB
		}
	}
	return float64(mib) / 1024
}
