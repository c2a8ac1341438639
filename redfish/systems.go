package redfish

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

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
	// Boot is the platform's boot override, which IPMI's System Boot
	// Options show and set too.
	Boot systemBoot `json:"Boot"`
	// ProcessorSummary and the links to the hardware inventory
	// (processors.go).
	systemInventory
	// BootProgress is the stage the host's boot reached (reset.go).
	BootProgress bootProgress `json:"BootProgress"`
	// Bios and SecureBoot are the host firmware's settings (bios.go).
	Bios       link `json:"Bios"`
	SecureBoot link `json:"SecureBoot"`
	// PCIeDevices are the CXL expanders the system uses (pcie.go).
	PCIeDevices      []link `json:"PCIeDevices,omitempty"`
	PCIeDevicesCount *int   `json:"PCIeDevices@odata.count,omitempty"`
}

type systemBoot struct {
	BootSourceOverrideEnabled        string   `json:"BootSourceOverrideEnabled"`
	BootSourceOverrideEnabledAllowed []string `json:"BootSourceOverrideEnabled@Redfish.AllowableValues"`
	BootSourceOverrideTarget         string   `json:"BootSourceOverrideTarget"`
	BootSourceOverrideTargetAllowed  []string `json:"BootSourceOverrideTarget@Redfish.AllowableValues"`
	BootSourceOverrideMode           string   `json:"BootSourceOverrideMode"`
	BootSourceOverrideModeAllowed    []string `json:"BootSourceOverrideMode@Redfish.AllowableValues"`
	// BootOrder and BootOptions are the firmware's boot order
	// (bootoptions.go).
	BootOrder   []string `json:"BootOrder"`
	BootOptions link     `json:"BootOptions"`
}

// newSystemBoot shows the platform's override. The platform's target,
// enable and mode names are the Redfish BootSource, BootSourceOverrideEnabled
// and BootSourceOverrideMode members, so they pass through unchanged.
func newSystemBoot(snap *platform.Snapshot) systemBoot {
	o := snap.Boot
	return systemBoot{
		BootOrder:                        bootOrderOf(snap),
		BootOptions:                      link{ID: bootOptionsPath()},
		BootSourceOverrideEnabled:        o.Enabled,
		BootSourceOverrideEnabledAllowed: platform.BootOverrideStates(),
		BootSourceOverrideTarget:         o.Target,
		BootSourceOverrideTargetAllowed:  platform.BootTargets(),
		BootSourceOverrideMode:           o.Mode,
		BootSourceOverrideModeAllowed:    platform.BootModes(),
	}
}

type systemActions struct {
	Reset resetAction `json:"#ComputerSystem.Reset"`
}

type resetAction struct {
	Target          string   `json:"target"`
	AllowableValues []string `json:"ResetType@Redfish.AllowableValues"`
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
		PowerState:   systemPowerState(snap),
		BiosVersion:  biosVersion(snap),
		Status:       st,
		MemorySummary: memorySummary{
			TotalSystemMemoryGiB: totalMemoryGiB(snap),
			MemoryMirroring:      memoryMirroring(snap.RAS),
			Status:               memorySummaryStatus(snap),
		},
		Memory:        link{ID: memoryCollectionPath()},
		MemoryDomains: link{ID: memoryDomainsPath()},
		LogServices:   link{ID: logServicesPath()},
		Links: systemLinks{
			Chassis:   links(chassisPath()),
			ManagedBy: links(managerPath()),
		},
		Boot:             newSystemBoot(snap),
		BootProgress:     newBootProgress(snap.Host),
		Bios:             link{ID: biosPath()},
		SecureBoot:       link{ID: secureBootPath()},
		systemInventory:  newSystemInventory(snap),
		PCIeDevices:      cxlDeviceLinks(snap),
		PCIeDevicesCount: cxlDeviceCount(snap),
		Actions:          systemActions{Reset: resetAction{Target: resetPath(), AllowableValues: resetTypes}},
	}, nil
}

// totalMemoryGiB is the memory the OS can use (the property's
// definition): net of mirror copies, spare ranks and RAID parity, so a
// mirrored 256 GiB server reports 128. Memory the OS onlined from CXL
// expanders counts as a hot-added module's online blocks do.
func totalMemoryGiB(snap *platform.Snapshot) float64 {
	return float64(guestTotalBytes(snap, usableBytes(snap))+cxlOnlineBytes(snap)) / (1 << 30)
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
// redundancy warns, lost data is critical. HealthRollup also takes the
// worst module's health, so a DIMM left Critical by an uncovered UE shows
// on the System without walking the Memory collection.
func memorySummaryStatus(snap *platform.Snapshot) status {
	h := redundancyHealth(snap.RAS.Redundancy)
	roll := h
	for _, sl := range snap.Slots {
		switch {
		case sl.Health == platform.HealthCritical:
			roll = "Critical"
		case sl.Health == platform.HealthWarning && roll == "OK":
			roll = "Warning"
		}
	}
	return status{State: "Enabled", Health: h, HealthRollup: roll}
}

// bootOverrideSetter is the platform's boot override, shared with IPMI.
type bootOverrideSetter interface {
	SetBootOverride(platform.BootOverride) error
}

// systemPatch is what a PATCH of the ComputerSystem may set. Boot stays raw
// until its own properties are decoded, so each of them is refused or
// applied on its own, with its path in the message.
type systemPatch struct {
	Boot json.RawMessage `json:"Boot"`
}

// bootPatch is the writable part of Boot. The lists are the platform's
// (BootTargets, BootOverrideStates, BootModes); TestBootPatchListsMatchPlatform
// keeps them equal.
type bootPatch struct {
	BootSourceOverrideTarget  *string `json:"BootSourceOverrideTarget" validate:"omitempty,oneof=None Pxe Hdd Cd Usb BiosSetup Diags RemoteDrive"`
	BootSourceOverrideEnabled *string `json:"BootSourceOverrideEnabled" validate:"omitempty,oneof=Disabled Once Continuous"`
	BootSourceOverrideMode    *string `json:"BootSourceOverrideMode" validate:"omitempty,oneof=UEFI Legacy"`
	// BootOrder is checked against the boot options (bootoptions.go).
	BootOrder *[]string `json:"BootOrder"`
}

// systemReadOnly are the ComputerSystem properties a client may name but
// not write: everything served but Boot, plus the schema's writable
// properties this system does not offer.
var systemReadOnly = append(jsonNames(computerSystem{}), "AssetTag", "HostName", "IndicatorLED",
	"LocationIndicatorActive", "PowerRestorePolicy", "PowerMode", "BootProgress", "Oem")

// bootReadOnly are the Boot properties that exist but cannot be written:
// the annotations served beside the override, and the schema's boot order
// and retry settings a host without boot devices has no use for.
var bootReadOnly = []string{
	"BootSourceOverrideEnabled@Redfish.AllowableValues", "BootSourceOverrideTarget@Redfish.AllowableValues",
	"BootSourceOverrideMode@Redfish.AllowableValues", "UefiTargetBootSourceOverride", "BootNext",
	"AliasBootOrder", "BootOrderPropertySelection", "BootOptions", "Certificates", "HttpBootUri",
	"AutomaticRetryConfig", "AutomaticRetryAttempts", "RemainingAutomaticRetryAttempts",
	"StopBootOnFault", "TrustedModuleRequiredToBoot",
}

// patchSystem sets the boot override, as Ironic and Metal3 do before a
// reset. Properties that cannot be written are reported beside the applied
// ones (partial success, DSP0266 clause 9.5.4); when nothing applies the
// request fails as a whole.
func (s *service) patchSystem(r *request) (*response, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	var p systemPatch
	d, err := decodeBody(r.body, &p, systemReadOnly)
	if err != nil {
		return nil, err
	}
	problems := d.problems
	var o platform.BootOverride
	var order []string
	if d.has("Boot") {
		var b bootPatch
		bd, err := decodeBody(p.Boot, &b, bootReadOnly)
		if err != nil {
			// Boot is not an object.
			problems = append(problems, propErr(http.StatusBadRequest, "PropertyValueTypeError", "Boot", shortJSON(p.Boot), "Boot"))
		} else {
			problems = append(problems, under("Boot", bd.problems)...)
			if bd.has("BootSourceOverrideTarget") {
				o.Target = *b.BootSourceOverrideTarget
			}
			if bd.has("BootSourceOverrideEnabled") {
				o.Enabled = *b.BootSourceOverrideEnabled
			}
			if bd.has("BootSourceOverrideMode") {
				o.Mode = *b.BootSourceOverrideMode
			}
			if bd.has("BootOrder") {
				if prob := checkBootOrder(r.snap, *b.BootOrder); prob != nil {
					problems = append(problems, prob)
				} else {
					order = *b.BootOrder
				}
			}
		}
	}
	if o == (platform.BootOverride{}) && order == nil {
		return nil, failAll(problems)
	}
	if o != (platform.BootOverride{}) {
		setter, ok := s.platform.(bootOverrideSetter)
		if !ok {
			return nil, failAll(append(problems, propErr(http.StatusBadRequest, "PropertyNotWritable", "Boot", "Boot")))
		}
		if err := setter.SetBootOverride(o); err != nil {
			return nil, fmt.Errorf("set boot override: %w", err)
		}
	}
	if order != nil {
		if err := s.setBootOrder(order); err != nil {
			return nil, err
		}
	}
	r.snap = s.platform.Snapshot()
	v, err := s.getSystem(r)
	if err != nil {
		return nil, err
	}
	body, err := withMessages(v, problems)
	if err != nil {
		return nil, err
	}
	return &response{status: http.StatusOK, body: body, refetch: true}, nil
}

// under moves the messages about a nested object's properties below its
// parent: RelatedProperties #/X becomes #/parent/X.
func under(parent string, problems []*apiError) []*apiError {
	for _, p := range problems {
		for i, rel := range p.related {
			p.related[i] = "#/" + parent + "/" + strings.TrimPrefix(rel, "#/")
		}
	}
	return problems
}
