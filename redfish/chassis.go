package redfish

import (
	"fmt"
	"net/http"
	"time"

	"github.com/bmcemu/bmcemu/platform"
)

type chassis struct {
	odata
	ID           string `json:"Id"`
	Name         string `json:"Name"`
	ChassisType  string `json:"ChassisType"`
	Manufacturer string `json:"Manufacturer"`
	Model        string `json:"Model"`
	SerialNumber string `json:"SerialNumber"`
	PartNumber   string `json:"PartNumber,omitempty"`
	PowerState   string `json:"PowerState"`
	// LocationIndicatorActive is the chassis identify LED, the one IPMI
	// Chassis Identify drives. IndicatorLED, deprecated in Chassis 1.14, is
	// kept beside it because clients still write it (Ansible's
	// IndicatorLedOn/Blink/Off) and it tells Lit from Blinking.
	LocationIndicatorActive bool   `json:"LocationIndicatorActive"`
	IndicatorLED            string `json:"IndicatorLED"`
	Status                  status `json:"Status"`
	Sensors                 link   `json:"Sensors"`
	// PCIeDevices are the CXL expanders in the chassis' slots (pcie.go);
	// a server without CXL has none to list.
	PCIeDevices *link        `json:"PCIeDevices,omitempty"`
	Links       chassisLinks `json:"Links"`
	// Power and Thermal (power.go).
	chassisEnvironment
}

type chassisLinks struct {
	ComputerSystems   []link `json:"ComputerSystems"`
	ManagedBy         []link `json:"ManagedBy"`
	ManagersInChassis []link `json:"ManagersInChassis"`
}

func (s *service) getChassisCollection(*request) (any, error) {
	return newCollection(pathChassis, typeChassisCollection, "Chassis Collection", links(chassisPath())), nil
}

func (s *service) getChassis(r *request) (any, error) {
	if err := lookupChassis(r); err != nil {
		return nil, err
	}
	sys := r.snap.System
	var pcie *link
	if r.snap.CXL != nil {
		pcie = &link{ID: pcieDevicesPath()}
	}
	return chassis{
		PCIeDevices:             pcie,
		odata:                   odata{ID: chassisPath(), Type: typeChassis},
		ID:                      chassisID,
		Name:                    sys.Model + " Chassis",
		ChassisType:             "RackMount",
		Manufacturer:            sys.Manufacturer,
		Model:                   sys.Model,
		SerialNumber:            sys.SerialNumber,
		PartNumber:              sys.PartNumber,
		PowerState:              powerState(r.snap.PowerOn),
		LocationIndicatorActive: r.snap.Identify.State != platform.IdentifyOff,
		IndicatorLED:            r.snap.Identify.State,
		Status:                  statusOK(),
		Sensors:                 link{ID: sensorsPath()},
		chassisEnvironment:      newChassisEnvironment(),
		Links: chassisLinks{
			ComputerSystems:   links(systemPath()),
			ManagedBy:         links(managerPath()),
			ManagersInChassis: links(managerPath()),
		},
	}, nil
}

// identifySetter is what a platform needs for a writable chassis identify
// LED.
type identifySetter interface {
	SetChassisIdentify(state string, d time.Duration) error
}

type chassisPatch struct {
	LocationIndicatorActive *bool   `json:"LocationIndicatorActive"`
	IndicatorLED            *string `json:"IndicatorLED" validate:"omitempty,oneof=Lit Blinking Off"`
}

var chassisReadOnly = append(jsonNames(chassis{}), "Actions", "Oem", "Location", "AssetTag")

// patchChassis drives the chassis identify LED. LocationIndicatorActive
// true blinks it until changed, as a BMC's identify does; IndicatorLED
// picks Lit or Blinking. Given both, LocationIndicatorActive is applied
// last.
func (s *service) patchChassis(r *request) (*response, error) {
	if err := lookupChassis(r); err != nil {
		return nil, err
	}
	var p chassisPatch
	d, err := decodeBody(r.body, &p, chassisReadOnly)
	if err != nil {
		return nil, err
	}
	if len(d.present) == 0 {
		return nil, failAll(d.problems)
	}
	setter, ok := s.platform.(identifySetter)
	if !ok {
		for name := range d.present {
			d.problems = append(d.problems, propErr(http.StatusBadRequest, "PropertyNotWritable", name, name))
		}
		return nil, failAll(d.problems)
	}
	var states []string
	if d.has("IndicatorLED") {
		states = append(states, *p.IndicatorLED)
	}
	if d.has("LocationIndicatorActive") {
		st := platform.IdentifyOff
		if *p.LocationIndicatorActive {
			st = platform.IdentifyBlinking
		}
		states = append(states, st)
	}
	for _, st := range states {
		if err := setter.SetChassisIdentify(st, 0); err != nil {
			return nil, fmt.Errorf("set chassis identify: %w", err)
		}
	}
	return s.afterPatch(r, s.getChassis, d)
}
