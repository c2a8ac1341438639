package redfish

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// memory is Memory.v1_23_0. The module properties are pointers or
// omitempty because an empty slot reports only where it is and that it is
// Absent.
type memory struct {
	odata
	ID                string         `json:"Id"`
	Name              string         `json:"Name"`
	MemoryLocation    memoryLocation `json:"MemoryLocation"`
	Location          location       `json:"Location"`
	CapacityMiB       *uint64        `json:"CapacityMiB,omitempty"`
	MemoryType        string         `json:"MemoryType,omitempty"`
	MemoryDeviceType  string         `json:"MemoryDeviceType,omitempty"`
	BaseModuleType    string         `json:"BaseModuleType,omitempty"`
	RankCount         *int           `json:"RankCount,omitempty"`
	OperatingSpeedMhz *int           `json:"OperatingSpeedMhz,omitempty"`
	DataWidthBits     *int           `json:"DataWidthBits,omitempty"`
	BusWidthBits      *int           `json:"BusWidthBits,omitempty"`
	Manufacturer      string         `json:"Manufacturer,omitempty"`
	PartNumber        string         `json:"PartNumber,omitempty"`
	SerialNumber      string         `json:"SerialNumber,omitempty"`
	ErrorCorrection   string         `json:"ErrorCorrection,omitempty"`
	// Sparing as the RAS mode in effect applies it to this module
	// (seated modules only).
	IsRankSpareEnabled   *bool `json:"IsRankSpareEnabled,omitempty"`
	IsSpareDeviceEnabled *bool `json:"IsSpareDeviceEnabled,omitempty"`
	SpareDeviceCount     *int  `json:"SpareDeviceCount,omitempty"`
	// LocationIndicatorActive is the slot's identify LED, so it is
	// reported (and writable) for empty slots too.
	LocationIndicatorActive bool   `json:"LocationIndicatorActive"`
	Status                  status `json:"Status"`
	// Enabled: in service or on its way; writable (memoryeject.go).
	Enabled *bool `json:"Enabled,omitempty"`
	// Metrics links the module's MemoryMetrics and EnvironmentMetrics
	// its temperature (seated modules only).
	Metrics            *link `json:"Metrics,omitempty"`
	EnvironmentMetrics *link `json:"EnvironmentMetrics,omitempty"`
}

type memoryLocation struct {
	Socket           int `json:"Socket"`
	MemoryController int `json:"MemoryController"`
	Channel          int `json:"Channel"`
	Slot             int `json:"Slot"`
}

type location struct {
	PartLocation partLocation `json:"PartLocation"`
}

type partLocation struct {
	ServiceLabel         string `json:"ServiceLabel"`
	LocationType         string `json:"LocationType"`
	LocationOrdinalValue int    `json:"LocationOrdinalValue"`
}

func (s *service) getMemoryCollection(r *request) (any, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	// Every slot is a member, empty or not: DSP0268 models an empty slot
	// as a Memory resource with State Absent, which is how clients find
	// where a module can go.
	members := make([]link, len(r.snap.Slots))
	for i, sl := range r.snap.Slots {
		members[i] = link{ID: memoryPath(sl.Name)}
	}
	for _, id := range guestMemoryIDs(r.snap) {
		members = append(members, link{ID: memoryPath(id)})
	}
	for _, id := range cxlMemoryIDs(r.snap) {
		members = append(members, link{ID: memoryPath(id)})
	}
	return newCollection(memoryCollectionPath(), typeMemoryCollection, "Memory Module Collection", members), nil
}

func (s *service) getMemory(r *request) (any, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	id := r.param("memory")
	sl, ok := r.snap.Slot(id)
	if !ok {
		if m, ok := guestMemoryResource(r.snap, id); ok {
			return m, nil
		}
		if m, ok := cxlMemoryResource(r.snap, id); ok {
			return m, nil
		}
		return nil, errResourceNotFound("Memory", id)
	}
	return memoryResource(sl), nil
}

func memoryResource(sl platform.Slot) memory {
	m := memory{
		odata: odata{ID: memoryPath(sl.Name), Type: typeMemory},
		ID:    sl.Name,
		Name:  sl.Name,
		MemoryLocation: memoryLocation{
			Socket: sl.Socket, MemoryController: sl.Controller, Channel: sl.Channel, Slot: sl.Position,
		},
		Location: location{PartLocation: partLocation{
			ServiceLabel: sl.Name, LocationType: "Slot", LocationOrdinalValue: sl.Ordinal,
		}},
		LocationIndicatorActive: sl.LocationIndicator,
		Status:                  status{State: "Absent"},
	}
	if sl.Module == nil {
		return m
	}
	mod := sl.Module.SPD
	m.CapacityMiB = ptr(mod.CapacityMiB)
	m.MemoryType = "DRAM"
	m.MemoryDeviceType = memoryDeviceType(mod.Type)
	m.BaseModuleType = baseModuleType(mod.BaseModule)
	m.RankCount = ptr(mod.Ranks)
	// DDR transfers twice per clock; the property takes MT/s for it.
	m.OperatingSpeedMhz = ptr(mod.SpeedMTs)
	m.DataWidthBits = ptr(mod.DataWidthBits)
	m.BusWidthBits = ptr(mod.BusWidthBits)
	m.Manufacturer = mod.Manufacturer
	m.PartNumber = mod.PartNumber
	m.SerialNumber = mod.SerialNumber
	m.ErrorCorrection = "NoECC"
	if mod.ECC() {
		m.ErrorCorrection = "SingleBitECC"
	}
	m.Status = memoryStatus(sl)
	m.Enabled = memoryEnabled(sl)
	m.Metrics = &link{ID: memoryMetricsPath(sl.Name)}
	if sl.TemperatureC != nil {
		m.EnvironmentMetrics = &link{ID: environmentMetricsPath(sl.Name)}
	}
	memorySparing(&m, sl)
	return m
}

// memorySparing reports rank sparing: a module on a spared channel has
// rank sparing enabled; the unused spare ranks it holds are its spare
// devices (a rank whose contents moved onto the spare is no longer one).
// A module whose every rank is an unused spare serves no data: it is a
// standby spare.
func memorySparing(m *memory, sl platform.Slot) {
	r := sl.RAS
	spares := 0
	rankSpare := false
	if r != nil {
		spares = r.SpareRanks
		rankSpare = r.Role == "Data" && r.Set != ""
	}
	m.IsRankSpareEnabled = ptr(rankSpare)
	m.IsSpareDeviceEnabled = ptr(spares > 0)
	m.SpareDeviceCount = ptr(spares)
	if spares > 0 && spares == sl.Module.SPD.Ranks && m.Status.State == "Enabled" {
		m.Status.State = "StandbySpare"
	}
}

// memoryStatus tells the slot's hot-plug story in Redfish's words: Starting
// while the SMC, firmware and OS bring the module up, Enabled once its
// memory is online, StandbyOffline while the OS has it offline, Disabled
// when seated but out of service by intent, UnavailableOffline when refused
// or parked by a fault.
func memoryStatus(sl platform.Slot) status {
	st := status{Health: "OK"}
	switch sl.State {
	case platform.StateStarting:
		st.State = "Starting"
	case platform.StateOffline:
		st.State = "StandbyOffline"
	case platform.StateDisabled:
		st.State = "Disabled"
	case platform.StateFailed:
		st.State = "UnavailableOffline"
	default:
		st.State = "Enabled"
	}
	switch sl.Health {
	case platform.HealthWarning:
		st.Health = "Warning"
	case platform.HealthCritical:
		st.Health = "Critical"
	}
	return st
}

// memoryDeviceType maps the SPD generation to the schema enum; an
// unmapped value is left out rather than served as an invalid enum member.
func memoryDeviceType(t spd.DeviceType) string {
	switch t {
	case spd.DDR4, spd.DDR5:
		return string(t)
	}
	return ""
}

func baseModuleType(t spd.ModuleType) string {
	switch t {
	case spd.RDIMM, spd.UDIMM, spd.SODIMM, spd.LRDIMM:
		return string(t)
	}
	return ""
}

func ptr[T any](v T) *T { return &v }

// memoryPatch is what a PATCH of a Memory resource may set.
type memoryPatch struct {
	LocationIndicatorActive *bool `json:"LocationIndicatorActive"`
	Enabled                 *bool `json:"Enabled"`
}

// memoryReadOnly are the Memory properties a client may name but not
// write: everything served (but Enabled and the LED), plus the schema's
// writable properties this board cannot change.
var memoryReadOnly = append(jsonNames(memory{}), "OperatingSpeedRangeMHz", "SecurityState",
	"ConfigurationLocked", "Regions", "Links", "Actions", "Oem")

// patchMemory drives the slot's identify LED and, through Enabled false,
// a hot-remove (memoryeject.go) that answers 202 with a task monitor.
// Properties that cannot be written are reported beside the applied ones
// (partial success, DSP0266 clause 9.5.4); when nothing applies the
// request fails as a whole.
func (s *service) patchMemory(r *request) (*response, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	id := r.param("memory")
	if _, ok := r.snap.Slot(id); !ok {
		if _, guest := guestMemoryResource(r.snap, id); guest {
			// The hypervisor, not the BMC, sizes a guest's devices.
			return nil, errOperationNotAllowed()
		}
		if _, expander := cxlMemoryResource(r.snap, id); expander {
			// An expander is brought up and removed with its slot's
			// attention button, not through its memory.
			return nil, errOperationNotAllowed()
		}
		return nil, errResourceNotFound("Memory", id)
	}
	var p memoryPatch
	d, err := decodeBody(r.body, &p, memoryReadOnly)
	if err != nil {
		return nil, err
	}
	if len(d.present) == 0 {
		return nil, failAll(d.problems)
	}
	// Enabled first: when it is refused nothing else has changed yet.
	var started *task
	if d.has("Enabled") {
		if started, err = s.setMemoryEnabled(r, id, *p.Enabled, d.problems); err != nil {
			return nil, err
		}
	}
	if d.has("LocationIndicatorActive") {
		setter, ok := s.platform.(indicatorSetter)
		if !ok {
			return nil, failAll(append(d.problems, propErr(http.StatusBadRequest, "PropertyNotWritable", "LocationIndicatorActive", "LocationIndicatorActive")))
		}
		if err := setter.SetLocationIndicator(id, *p.LocationIndicatorActive); err != nil {
			if errors.Is(err, platform.ErrUnknownSlot) {
				return nil, errResourceNotFound("Memory", id)
			}
			return nil, fmt.Errorf("set location indicator of %s: %w", id, err)
		}
	}
	if started != nil {
		return s.accepted(started)
	}
	sl, _ := s.platform.Snapshot().Slot(id)
	body, err := withMessages(memoryResource(sl), d.problems)
	if err != nil {
		return nil, err
	}
	return &response{status: http.StatusOK, body: body, refetch: true}, nil
}
