// Package control is the emulator's own API for the physical world: what a
// technician does with the chassis open (seat a DIMM, pull one) and, in later
// work, what the in-band OS sees. It is deliberately not Redfish or IPMI:
// those are the BMC's views and must only observe what happens here.
//
// Resource model, all JSON under /emulator/v1:
//
//	GET    /emulator/v1                       index of resources
//	GET    /emulator/v1/system                identity, power, topology
//	GET    /emulator/v1/slots                 every slot with its module
//	GET    /emulator/v1/slots/{slot}          one slot
//	PUT    /emulator/v1/slots/{slot}/module   seat a module (body: ModuleRequest)
//	DELETE /emulator/v1/slots/{slot}/module   pull the module out
//	POST   /emulator/v1/slots/{slot}/attention press the attention button
//	PUT    /emulator/v1/slots/{slot}/latch    open or close the latch (body: LatchRequest)
//	GET    /emulator/v1/faults                fault kinds with descriptions
//	PUT    /emulator/v1/slots/{slot}/faults/{kind}    arm a fault
//	DELETE /emulator/v1/slots/{slot}/faults/{kind}    clear it ("all": every kind)
//	GET    /emulator/v1/events?since=SEQ&wait=SECONDS&max=N   long-poll the event stream
//
// The host (host.go): power and boot state, and its serial console:
//
//	GET    /emulator/v1/host                  power, boot progress, the device it booted from, boot order
//	GET    /emulator/v1/host/console?since=SEQ&wait=SECONDS  console lines
//
// The in-band OS view (what the host's Linux sees; 409 or 503 while the
// OS does not run) and the firmware's tables:
//
//	GET    /emulator/v1/os/dmesg?since=SEQ    kernel ring buffer
//	GET    /emulator/v1/os/blocks             memory blocks (sysfs memoryN)
//	GET    /emulator/v1/os/blocks/{id}        one block
//	PUT    /emulator/v1/os/blocks/{id}/state  online/offline it (body: BlockStateRequest)
//	GET    /emulator/v1/os/meminfo            /proc/meminfo
//	GET    /emulator/v1/os/directmap          the direct map: DirectMap4k/2M/1G, page-table writes, ptdump text
//	GET    /emulator/v1/os/vmstat             /proc/vmstat (free pages, memmap, TLB flush counters)
//	GET    /emulator/v1/os/cpusets, POST, PATCH/DELETE /os/cpusets/{name}   cpusets (cpuset.go)
//	GET    /emulator/v1/os/tasks, POST, DELETE /os/tasks/{pid}   simulated tasks in cpusets
//	GET    /emulator/v1/os/iomem              /proc/iomem (tree, and text)
//	GET    /emulator/v1/os/nodes              NUMA nodes and zones
//	GET    /emulator/v1/firmware/acpi/srat    SRAT (iasl -d text and table)
//	GET    /emulator/v1/firmware/acpi/hmat    HMAT (iasl -d text)
//	GET    /emulator/v1/firmware/memmap       UEFI memory map and memmap= parameters
//	GET    /emulator/v1/firmware/devices      PNP0C80 memory devices (_STA, _CRS, _OST...)
//
// The sockets' home agents (homeagent.go):
//
//	GET    /emulator/v1/homeagent?since=SEQ   snoop filter directories, counters, trace
//	POST   /emulator/v1/homeagent/access      a core reads one line (body: LineAccessRequest)
//
// Memory RAS (the mode is the profile's firmware setting, applied at boot):
//
//	GET    /emulator/v1/ras                   mode, redundancy, sets, running copy, per-module state
//	POST   /emulator/v1/ras/errors            inject ECC errors (body: ErrorRequest)
//	POST   /emulator/v1/slots/{slot}/fail     the module (or its RAID cartridge) fails in place
//	PUT    /emulator/v1/ras/rates             a rank's ECC error rates, e.g. a CE storm (body: RateRequest)
//	DELETE /emulator/v1/slots/{slot}/errors   start a new counting period for a module
//	POST   /emulator/v1/ras/workload          write a deterministic pattern (body: WorkloadRequest)
//	POST   /emulator/v1/ras/verify            read it back byte for byte
//	PUT    /emulator/v1/ras/mode              the firmware's RAS mode for the next boot (body: ModeRequest)
//
// Protocol faults: the BMC misbehaving on the wire (platform/netfault;
// not persisted):
//
//	GET    /emulator/v1/protocol-faults                    kinds, live rules, counters, recent injections
//	PUT    /emulator/v1/protocol-faults/{surface}/{kind}   set a rule (body: netfault.Spec)
//	DELETE /emulator/v1/protocol-faults/{surface}/{kind}   clear it ("all" for either: every match)
//
// A fleet's control listener adds its membership, and reaches each
// member's API above under its id:
//
//	GET    /emulator/v1/servers               the members (ServerInfo)
//	POST   /emulator/v1/servers               add one (body: a fleet file's member entry, JSON)
//	GET    /emulator/v1/servers/{id}          one member
//	DELETE /emulator/v1/servers/{id}?purge=true  remove it (purge: its state directory too)
//	ANY    /emulator/v1/servers/{id}/...      that member's /emulator/v1/...
package control

import (
	"time"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/ras"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// Prefix is where the API is mounted.
const Prefix = "/emulator/v1"

// ServerInfo is one member of a fleet.
type ServerInfo struct {
	ID       string   `json:"id"`
	Profile  string   `json:"profile"`
	Serial   string   `json:"serial_number"`
	Address  string   `json:"address"`
	IPMI     string   `json:"ipmi"`                // UDP host:port
	Redfish  []string `json:"redfish"`             // service roots
	User     string   `json:"user"`                // the administrator seeded on first start
	Password string   `json:"password"`            // its password as seeded (the member's accounts may have changed since)
	StateDir string   `json:"state_dir,omitempty"` // "" when ephemeral
}

// ModuleRequest describes the module to seat. Zero fields take the board's
// defaults (its DRAM type and speed, 32 GiB, RDIMM). SPD, when given, is the
// raw EEPROM image (base64 in JSON) and overrides every other field: that is
// how a test seats a module with a deliberately odd or corrupt SPD.
type ModuleRequest struct {
	CapacityGiB  int            `json:"capacity_gib,omitempty" validate:"omitempty,min=1,max=4096"`
	Type         spd.DeviceType `json:"type,omitempty" validate:"omitempty,oneof=DDR4 DDR5"`
	BaseModule   spd.ModuleType `json:"base_module,omitempty" validate:"omitempty,oneof=RDIMM UDIMM SO_DIMM LRDIMM"`
	Ranks        int            `json:"ranks,omitempty" validate:"omitempty,min=1,max=8"`
	SpeedMTs     int            `json:"speed_mts,omitempty" validate:"omitempty,min=1600,max=8800"`
	Manufacturer string         `json:"manufacturer,omitempty" validate:"omitempty,max=64"`
	PartNumber   string         `json:"part_number,omitempty" validate:"omitempty,max=30,printascii"`
	SerialNumber uint32         `json:"serial_number,omitempty"`
	SPD          []byte         `json:"spd,omitempty" validate:"omitempty,max=1024"`
}

// Slot is the API's view of a slot.
type Slot struct {
	Name       string  `json:"name"`
	Socket     int     `json:"socket"`
	Controller int     `json:"controller"`
	Channel    string  `json:"channel"`
	Position   int     `json:"position"`
	State      string  `json:"state"` // "empty" | "populated"
	Module     *Module `json:"module,omitempty"`
	// Status is the slot's story (absent, starting, enabled, offline,
	// disabled, failed), Health ok/warning/critical, Reason why.
	Status       string `json:"status"`
	Health       string `json:"health"`
	Reason       string `json:"reason,omitempty"`
	Stage        string `json:"stage,omitempty"`
	Power        string `json:"power"`
	AttentionLED string `json:"attention_led"`
	// LocationIndicator is the identify LED (Redfish
	// LocationIndicatorActive), distinct from the hot-plug attention LED.
	LocationIndicator bool `json:"location_indicator"`
	LatchOpen         bool `json:"latch_open"`
	// TemperatureC is the module's temperature sensor (absent: no module).
	TemperatureC *int                 `json:"temperature_c,omitempty"`
	Faults       []string             `json:"faults,omitempty"`
	FWFault      bool                 `json:"fw_fault,omitempty"`
	Parked       bool                 `json:"parked,omitempty"`
	Memory       *platform.SlotMemory `json:"memory,omitempty"`
	// RAS is the module's role in the memory protection mode and its ECC
	// counters.
	RAS *ras.ModuleStatus `json:"ras,omitempty"`
}

// Module is a seated module as the API shows it.
type Module struct {
	spd.Module
	InsertedAt time.Time `json:"inserted_at"`
}

// System is the server's identity and power state.
type System struct {
	Profile      string `json:"profile"`
	Manufacturer string `json:"manufacturer"`
	Model        string `json:"model"`
	SerialNumber string `json:"serial_number"`
	PowerOn      bool   `json:"power_on"`
	// Identify is the chassis identify LED (IPMI Chassis Identify, Redfish
	// Chassis LocationIndicatorActive).
	Identify   platform.ChassisIdentify `json:"chassis_identify"`
	Generation uint64                   `json:"generation"`
	Memory     struct {
		Type                  spd.DeviceType `json:"type"`
		SpeedMTs              int            `json:"speed_mts"`
		Sockets               int            `json:"sockets"`
		ControllersPerSocket  int            `json:"controllers_per_socket"`
		ChannelsPerController int            `json:"channels_per_controller"`
		SlotsPerChannel       int            `json:"slots_per_channel"`
		Slots                 int            `json:"slots"`
		Populated             int            `json:"populated"`
		InstalledMiB          uint64         `json:"installed_mib"`
	} `json:"memory"`
	// Kernel is the in-band OS's memory accounting.
	Kernel platform.KernelSummary `json:"kernel"`
	// RASMode is the memory protection in effect (RASConfigError: why the
	// requested one was not applied).
	RASMode        string `json:"ras_mode"`
	RASConfigError string `json:"ras_config_error,omitempty"`
}

// Error is the body of every non-2xx answer.
type Error struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func slotView(s platform.Slot) Slot {
	v := Slot{Name: s.Name, Socket: s.Socket, Controller: s.Controller, Channel: s.ChannelLetter(), Position: s.Position, State: "empty",
		Status: s.State, Health: s.Health, Reason: s.Reason, Stage: s.Stage, Power: s.Power, AttentionLED: s.AttentionLED,
		LocationIndicator: s.LocationIndicator, LatchOpen: s.LatchOpen, TemperatureC: s.TemperatureC, Faults: s.Faults, FWFault: s.FWFault, Parked: s.Parked, Memory: s.Memory, RAS: s.RAS}
	if s.Module != nil {
		v.State = "populated"
		v.Module = &Module{Module: s.Module.SPD, InsertedAt: s.Module.InsertedAt}
	}
	return v
}

func systemView(s *platform.Snapshot) System {
	var v System
	v.Profile = s.Profile
	v.Manufacturer = s.System.Manufacturer
	v.Model = s.System.Model
	v.SerialNumber = s.System.SerialNumber
	v.PowerOn = s.PowerOn
	v.Identify = s.Identify
	v.Generation = s.Generation
	m := &v.Memory
	m.Type, m.SpeedMTs, m.Sockets = s.Memory.Type, s.Memory.SpeedMTs, s.Memory.Sockets
	m.ControllersPerSocket, m.ChannelsPerController, m.SlotsPerChannel = s.Memory.ControllersPerSocket, s.Memory.ChannelsPerController, s.Memory.SlotsPerChannel
	m.Slots, m.Populated, m.InstalledMiB = len(s.Slots), s.Populated(), s.InstalledMiB()
	v.Kernel = s.Kernel
	v.RASMode, v.RASConfigError = s.RAS.Mode, s.RAS.ConfigError
	return v
}
