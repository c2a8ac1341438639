package events

import "github.com/bmcemu/bmcemu/platform/spd"

// Hot-plug step facts published by the system management controller
// (platform/smc) and the UEFI/ACPI firmware (platform/firmware). Each names
// the slot by its board label; ranges are system physical addresses.

// AttentionPressed: the operator pressed a slot's attention button. Intent is
// what the SMC made of it: "insert", "remove", "cancel", "retry" or "ignored".
type AttentionPressed struct {
	Slot   string `json:"slot"`
	Intent string `json:"intent"`
}

// AttentionIndicatorChanged: a slot's attention LED turned Off, Blinking
// (operation in progress) or On (fault: needs the operator).
type AttentionIndicatorChanged struct {
	Slot  string `json:"slot"`
	State string `json:"state"`
}

// SlotPowerChanged: a slot's power state machine moved (Off, Isolated,
// Ramping, Nominal); MilliVolts is the VDD rail at that moment.
type SlotPowerChanged struct {
	Slot       string `json:"slot"`
	State      string `json:"state"`
	MilliVolts int    `json:"millivolts"`
}

// SlotLatchChanged: a slot's retention latch was opened or closed.
type SlotLatchChanged struct {
	Slot string `json:"slot"`
	Open bool   `json:"open"`
}

// SlotPresenceChanged: the presence-detect pin of a slot changed. The SPD has
// not been read yet; SPDAccepted follows when it is.
type SlotPresenceChanged struct {
	Slot    string `json:"slot"`
	Present bool   `json:"present"`
	// Isolated reports whether the slot was isolated from the channel bus
	// when the module went in or out (false means the operator skipped the
	// attention step).
	Isolated bool `json:"isolated"`
}

// SlotReady: the slot is isolated and safe to handle; For is "installation"
// or "removal" (IPMI Slot/Connector offsets 03h and 04h).
type SlotReady struct {
	Slot string `json:"slot"`
	For  string `json:"for"`
}

// SPDAccepted: the SMC read the module's SPD and it matches the running
// configuration. OperatingSpeedMTs is the speed the module will run at.
type SPDAccepted struct {
	Slot              string     `json:"slot"`
	Module            spd.Module `json:"module"`
	OperatingSpeedMTs int        `json:"operating_speed_mts"`
}

// SPDCheckFailed: the SMC refused a module after reading its SPD. Reason is
// a stable code (crc, truncated, dram-type, voltage, speed, capacity, ranks,
// channel-ranks, module-type, ecc, unsupported); Detail explains it.
type SPDCheckFailed struct {
	Slot   string `json:"slot"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

// NoiseHit is what one neighbouring module suffered from bus noise.
type NoiseHit struct {
	Slot          string `json:"slot"`
	Correctable   int    `json:"correctable"`
	Uncorrectable int    `json:"uncorrectable"`
}

// BusNoise: a module went into a slot that was not isolated, and the powered
// modules sharing its channel saw transient errors.
type BusNoise struct {
	Socket  int        `json:"socket"`
	Channel int        `json:"channel"` // within the socket, A=0
	Slot    string     `json:"slot"`    // the slot that was handled
	Victims []NoiseHit `json:"victims"`
}

// BusNoiseRecovered: the channel is quiet again and the victims' banks are
// accessible.
type BusNoiseRecovered struct {
	Socket  int      `json:"socket"`
	Channel int      `json:"channel"`
	Slot    string   `json:"slot"` // the slot whose handling made the noise
	Victims []string `json:"victims"`
}

// SCIRaised: the SMC set a GPE status bit and raised the System Control
// Interrupt; the firmware runs Method (e.g. "_L01"). Cause is "insert",
// "eject-request" or "surprise-removal".
type SCIRaised struct {
	Slot   string `json:"slot"`
	GPE    int    `json:"gpe"`
	Method string `json:"method"`
	Cause  string `json:"cause"`
}

// SurpriseRemoval: a powered module was pulled.
type SurpriseRemoval struct {
	Slot       string `json:"slot"`
	PowerState string `json:"power_state"`
}

// MemoryTrained: the firmware finished DQ/DQS training and the Vref sweep.
type MemoryTrained struct {
	Slot         string  `json:"slot"`
	Lanes        int     `json:"lanes"`
	MinEyePS     int     `json:"min_eye_ps"`
	VrefPercent  float64 `json:"vref_percent"`
	EyeHeightMV  int     `json:"eye_height_mv"`
	SpeedMTs     int     `json:"speed_mts"`
	DurationMsec int64   `json:"duration_msec"`
}

// TrainingFailed: training or calibration failed. Stage is "dq-dqs" (per-lane
// delay training), "vref" (calibration) or "timeout".
type TrainingFailed struct {
	Slot   string `json:"slot"`
	Stage  string `json:"stage"`
	Lane   int    `json:"lane"` // -1 when not lane-specific
	Reason string `json:"reason"`
}

// FirmwareFault: the firmware set FW_FAULT for a slot's module: an alert for
// the administrator (IPMI Memory "Configuration error", Redfish Critical).
type FirmwareFault struct {
	Slot   string `json:"slot"`
	Fault  string `json:"fault"` // the fault kind name, e.g. "calibration"
	Reason string `json:"reason"`
}

// ModuleParked: a defective module was moved to the defective pool: powered
// down, out of the address map, kept for the operator to pull.
type ModuleParked struct {
	Slot   string `json:"slot"`
	Serial string `json:"serial"`
	Reason string `json:"reason"`
}

// AddressMapUpdated: the Target Address Decoder of a socket was rebuilt,
// validated and swapped in. Op is "add", "remove", "extend" or "map-out"
// (a surprise-removed boot module's ways decode to no module; Base is its
// lowest system address, Length the bytes its ways cover).
type AddressMapUpdated struct {
	Socket     int    `json:"socket"`
	Slot       string `json:"slot"`
	Op         string `json:"op"`
	Base       uint64 `json:"base"`
	Length     uint64 `json:"length"`
	Generation uint64 `json:"generation"`
}

// AddressMapRejected: a hot-add could not be decoded (no room in the
// socket's hot-plug reservation, or the new table failed validation); the
// previous table stays in force.
type AddressMapRejected struct {
	Slot   string `json:"slot"`
	Reason string `json:"reason"`
}

// PhysRange is a system physical address range.
type PhysRange struct {
	Base   uint64 `json:"base"`
	Length uint64 `json:"length"`
}

// InterleaveChanged: a module broke channel symmetry and a memory controller
// left the socket's interleave set (its Map Out bits set). Migrate lists the
// ranges whose decoding changed: the kernel migrates critical pages there.
type InterleaveChanged struct {
	Socket      int         `json:"socket"`
	Controller  int         `json:"controller"`
	Interleaved bool        `json:"interleaved"`
	MapOut      uint32      `json:"map_out"` // bit per channel of the socket
	Reason      string      `json:"reason"`
	Migrate     []PhysRange `json:"migrate"`
}

// PatternTestCompleted: the firmware's pattern test (_RST) over a range.
type PatternTestCompleted struct {
	Slot     string `json:"slot"`
	Samples  int    `json:"samples"`
	Patterns int    `json:"patterns"`
	Passed   bool   `json:"passed"`
	// On failure: the first failing address, data bit and stuck value.
	Address uint64 `json:"address,omitempty"`
	Bit     int    `json:"bit,omitempty"`
	StuckAt int    `json:"stuck_at,omitempty"`
}

// ACPINotify: the firmware executed Notify(Device, Code) towards the OSPM.
type ACPINotify struct {
	Slot   string `json:"slot"`
	Device string `json:"device"` // ACPI path, e.g. \_SB.MHPC.MP05
	Code   uint8  `json:"code"`
	Name   string `json:"name"` // "Bus Check", "Device Check", "Eject Request"
}

// ACPIOST: _OST(Source, Status) was recorded for a memory device. From is
// "ospm" when the OS evaluated it, "firmware" when the firmware recorded the
// status of a transaction it ended itself (FW_FAULT, refusals, timeouts).
type ACPIOST struct {
	Slot    string `json:"slot"`
	Device  string `json:"device"`
	Source  uint32 `json:"source"`
	Status  uint32 `json:"status"`
	Meaning string `json:"meaning"`
	From    string `json:"from"`
}

// MemoryHotAdded: the OSPM acknowledged the new memory device (_OST success).
type MemoryHotAdded struct {
	Slot   string `json:"slot"`
	Node   int    `json:"node"`
	Base   uint64 `json:"base"`
	Length uint64 `json:"length"`
}

// MemoryEjected: _EJ0 ran; the range left the address map and the slot is
// being powered down.
type MemoryEjected struct {
	Slot   string `json:"slot"`
	Node   int    `json:"node"`
	Base   uint64 `json:"base"`
	Length uint64 `json:"length"`
}

// EjectFailed: an eject request ended without _EJ0 (not supported, device in
// use, busy, OSPM timeout); the module stays in service.
type EjectFailed struct {
	Slot   string `json:"slot"`
	Reason string `json:"reason"`
}

// FirmwareTimeout: a firmware stage or an OSPM response did not complete in
// time. Stage names what hung.
type FirmwareTimeout struct {
	Slot  string `json:"slot"`
	Stage string `json:"stage"`
}

func (AttentionPressed) Kind() string          { return "AttentionPressed" }
func (AttentionIndicatorChanged) Kind() string { return "AttentionIndicatorChanged" }
func (SlotPowerChanged) Kind() string          { return "SlotPowerChanged" }
func (SlotLatchChanged) Kind() string          { return "SlotLatchChanged" }
func (SlotPresenceChanged) Kind() string       { return "SlotPresenceChanged" }
func (SlotReady) Kind() string                 { return "SlotReady" }
func (SPDAccepted) Kind() string               { return "SPDAccepted" }
func (SPDCheckFailed) Kind() string            { return "SPDCheckFailed" }
func (BusNoise) Kind() string                  { return "BusNoise" }
func (BusNoiseRecovered) Kind() string         { return "BusNoiseRecovered" }
func (SCIRaised) Kind() string                 { return "SCIRaised" }
func (SurpriseRemoval) Kind() string           { return "SurpriseRemoval" }
func (MemoryTrained) Kind() string             { return "MemoryTrained" }
func (TrainingFailed) Kind() string            { return "TrainingFailed" }
func (FirmwareFault) Kind() string             { return "FirmwareFault" }
func (ModuleParked) Kind() string              { return "ModuleParked" }
func (AddressMapUpdated) Kind() string         { return "AddressMapUpdated" }
func (AddressMapRejected) Kind() string        { return "AddressMapRejected" }
func (InterleaveChanged) Kind() string         { return "InterleaveChanged" }
func (PatternTestCompleted) Kind() string      { return "PatternTestCompleted" }
func (ACPINotify) Kind() string                { return "ACPINotify" }
func (ACPIOST) Kind() string                   { return "ACPIOST" }
func (MemoryHotAdded) Kind() string            { return "MemoryHotAdded" }
func (MemoryEjected) Kind() string             { return "MemoryEjected" }
func (EjectFailed) Kind() string               { return "EjectFailed" }
func (FirmwareTimeout) Kind() string           { return "FirmwareTimeout" }
