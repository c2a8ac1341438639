package redfish

import (
	"fmt"
	"net/http"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/ras"
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
	MemoryDomains link          `json:"MemoryDomains"`
	LogServices   link          `json:"LogServices"`
	Links         systemLinks   `json:"Links"`
	Actions       systemActions `json:"Actions"`
	// Boot is reported (clients such as sushy require it) but the host
	// has no boot devices to choose between, so no override is offered.
	Boot systemBoot `json:"Boot"`
}

type systemBoot struct {
	BootSourceOverrideEnabled string `json:"BootSourceOverrideEnabled"`
	BootSourceOverrideTarget  string `json:"BootSourceOverrideTarget"`
	BootSourceOverrideMode    string `json:"BootSourceOverrideMode"`
}

type systemActions struct {
	Reset resetAction `json:"#ComputerSystem.Reset"`
}

type resetAction struct {
	Target          string   `json:"target"`
	AllowableValues []string `json:"ResetType@Redfish.AllowableValues"`
}

// resetTypes the emulated host supports: power is all it has.
var resetTypes = []string{"On", "ForceOff", "GracefulShutdown", "ForceRestart", "GracefulRestart", "PowerCycle"}

func resetPath() string { return systemPath() + "/Actions/ComputerSystem.Reset" }

type powerSetter interface {
	SetPower(on bool) error
}

type resetBody struct {
	ResetType string `json:"ResetType" validate:"required,oneof=On ForceOff GracefulShutdown ForceRestart GracefulRestart PowerCycle"`
}

// postReset is ComputerSystem.Reset: restarts are power off then on.
func (s *service) postReset(r *request) (*response, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	ps, ok := s.platform.(powerSetter)
	if !ok {
		return nil, newAPIError(http.StatusBadRequest, "ActionNotSupported", "#ComputerSystem.Reset")
	}
	var in resetBody
	d, err := decodeBody(r.body, &in, nil)
	if err != nil {
		return nil, err
	}
	if len(d.problems) > 0 {
		return nil, failAll(d.problems)
	}
	steps := map[string][]bool{
		"On": {true}, "ForceOff": {false}, "GracefulShutdown": {false},
		"ForceRestart": {false, true}, "GracefulRestart": {false, true}, "PowerCycle": {false, true},
	}[in.ResetType]
	for _, on := range steps {
		if err := ps.SetPower(on); err != nil {
			return nil, fmt.Errorf("reset %s: %w", in.ResetType, err)
		}
	}
	return &response{status: http.StatusNoContent}, nil
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
			MemoryMirroring:      memoryMirroring(snap.RAS),
			Status:               memorySummaryStatus(snap.RAS),
		},
		Memory:        link{ID: memoryCollectionPath()},
		MemoryDomains: link{ID: memoryDomainsPath()},
		LogServices:   link{ID: logServicesPath()},
		Links: systemLinks{
			Chassis:   links(chassisPath()),
			ManagedBy: links(managerPath()),
		},
		Boot:    systemBoot{BootSourceOverrideEnabled: "Disabled", BootSourceOverrideTarget: "None", BootSourceOverrideMode: "UEFI"},
		Actions: systemActions{Reset: resetAction{Target: resetPath(), AllowableValues: resetTypes}},
	}, nil
}

// totalMemoryGiB is the memory the OS can use (the property's
// definition): net of mirror copies, spare ranks and RAID parity, so a
// mirrored 256 GiB server reports 128.
func totalMemoryGiB(snap *platform.Snapshot) float64 {
	return float64(usableBytes(snap)) / (1 << 30)
}

// memoryMirroring is the mirroring the firmware applied: full mirroring
// covers all of the system's memory; address-range mirroring only the
// chosen DIMM pairs' ("DIMM"); any other mode (or a refused mirroring
// request) mirrors nothing.
func memoryMirroring(r platform.RASStatus) string {
	switch r.Mode {
	case string(ras.Mirroring):
		return "System"
	case string(ras.AddressRangeMirror):
		return "DIMM"
	}
	return "None"
}

// memorySummaryStatus rolls the memory redundancy up: degraded or lost
// redundancy warns, lost data is critical.
func memorySummaryStatus(r platform.RASStatus) status {
	h := redundancyHealth(r.Redundancy)
	return status{State: "Enabled", Health: h, HealthRollup: h}
}
