package events

// Memory RAS events: ECC errors, the firmware's reactions (spare copy,
// mirror failover, RAID reconstruction) and the redundancy of the server's
// memory. Slot is the module concerned (empty for set-wide events).

// Redundancy states of a redundant set and of the server's memory as a
// whole (the IPMI redundancy offsets of event type 0Bh).
const (
	FullyRedundant     = "FullyRedundant"
	RedundancyLost     = "RedundancyLost"
	RedundancyDegraded = "RedundancyDegraded"
	// NonRedundant: no redundancy is left and data was lost (a UE with no
	// copy, a second RAID cartridge lost).
	NonRedundant = "NonRedundant"
)

// RASModeApplied: at boot, the firmware applied the memory protection mode
// (Mode), or fell back to AdvancedECC because the population does not
// support the Requested one (ConfigError says why).
type RASModeApplied struct {
	Requested   string `json:"requested"`
	Mode        string `json:"mode"`
	ConfigError string `json:"config_error,omitempty"`
	RawBytes    uint64 `json:"raw_bytes"`
	UsableBytes uint64 `json:"usable_bytes"`
}

// MemoryCorrectableError: one logged correctable error on a module's rank
// (logging stops at the module's limit; counting does not).
type MemoryCorrectableError struct {
	Slot    string `json:"slot"`
	Rank    int    `json:"rank"`
	Address uint64 `json:"address"` // module-relative
	Count   uint64 `json:"count"`   // the module's lifetime CE count
}

// MemoryUncorrectableError: an uncorrectable error on a module's rank.
// Recovered: redundancy supplied the data (mirror copy, RAID parity); when
// false and pages were in use, MemoryDataLost follows.
type MemoryUncorrectableError struct {
	Slot      string `json:"slot"`
	Rank      int    `json:"rank"`
	Address   uint64 `json:"address"`
	Recovered bool   `json:"recovered"`
}

// MemoryCEThresholdExceeded: a rank's correctable errors crossed the
// firmware's leaky-bucket threshold.
type MemoryCEThresholdExceeded struct {
	Slot  string `json:"slot"`
	Rank  int    `json:"rank"`
	Level int    `json:"level"`
}

// MemoryCELoggingLimit: the module logged its limit of correctable errors
// this period; further ones are counted, not logged.
type MemoryCELoggingLimit struct {
	Slot string `json:"slot"`
}

// MemoryDataLost: pages with no good copy left (fatal: reported, never
// silent). Address is the first lost page: a system address in plain ECC,
// an address within the redundant set otherwise.
type MemoryDataLost struct {
	Slot    string `json:"slot,omitempty"`
	Address uint64 `json:"address"`
	Pages   int    `json:"pages"`
	Reason  string `json:"reason"`
}

// MemorySpareActivated: a rank's contents now live on the spare rank
// (SpareSlot/SpareRank) after a spare copy; the old rank is mapped out.
type MemorySpareActivated struct {
	Slot      string `json:"slot"`
	Rank      int    `json:"rank"`
	SpareSlot string `json:"spare_slot"`
	SpareRank int    `json:"spare_rank"`
	Pages     int    `json:"pages"`
}

// MemoryModuleMappedOut: firmware took a module (or one of its ranks, Rank
// >= 0) out of service; it should be replaced.
type MemoryModuleMappedOut struct {
	Slot   string `json:"slot"`
	Rank   int    `json:"rank"` // -1: the whole module
	Reason string `json:"reason"`
}

// MemoryRebuildStarted / Progress / Completed: the hardware copies data
// onto Slot: Op is "spare-copy", "resilver" (mirror) or "rebuild"
// (RAID5). Pages counts written pages, the only ones that hold data.
type MemoryRebuildStarted struct {
	Slot  string `json:"slot"`
	Set   string `json:"set"`
	Op    string `json:"op"`
	Total int    `json:"total"`
}

// MemoryRebuildProgress reports a running copy.
type MemoryRebuildProgress struct {
	Slot    string `json:"slot"`
	Set     string `json:"set"`
	Op      string `json:"op"`
	Done    int    `json:"done"`
	Total   int    `json:"total"`
	Percent int    `json:"percent"`
}

// MemoryRebuildCompleted ends a copy.
type MemoryRebuildCompleted struct {
	Slot  string `json:"slot"`
	Set   string `json:"set"`
	Op    string `json:"op"`
	Pages int    `json:"pages"`
}

// MemoryRebuildAborted: a copy stopped before completing (its source or
// target was pulled, or the set failed); Reason says why.
type MemoryRebuildAborted struct {
	Slot   string `json:"slot"`
	Set    string `json:"set"`
	Op     string `json:"op"`
	Done   int    `json:"done"`
	Total  int    `json:"total"`
	Reason string `json:"reason"`
}

// MemoryRedundancyChanged: redundant set Set (a mirror pair, the RAID5
// array, a channel's spare) changed State; Overall is the server's memory
// redundancy after the change (the worst set).
type MemoryRedundancyChanged struct {
	Set     string   `json:"set"`
	Slots   []string `json:"slots"`
	State   string   `json:"state"`
	Overall string   `json:"overall"`
	Reason  string   `json:"reason"`
}

// MemoryReplaceRefused: a module was refused as a replacement or addition
// under the RAS mode's rules (mismatch, one at a time...).
type MemoryReplaceRefused struct {
	Slot   string `json:"slot"`
	Reason string `json:"reason"`
}

// MemoryCapacityExpanded: every member of redundant set Set now carries a
// larger capacity (RAID5 cartridges upgraded one at a time); the array's
// usable size is UsableBytes. Reason says when the OS gets it.
type MemoryCapacityExpanded struct {
	Set         string `json:"set"`
	UsableBytes uint64 `json:"usable_bytes"`
	Reason      string `json:"reason"`
}

// RASModePending: the firmware's memory protection setting was changed;
// Mode takes effect at the next boot.
type RASModePending struct {
	Mode string `json:"mode"`
}

// MemoryAwaitingPartner: a hot-added module waits, powered and unmapped,
// for the module that completes its redundant set (a mirror partner).
type MemoryAwaitingPartner struct {
	Slot   string `json:"slot"`
	Reason string `json:"reason"`
}

func (MemoryCapacityExpanded) Kind() string    { return "MemoryCapacityExpanded" }
func (RASModePending) Kind() string            { return "RASModePending" }
func (MemoryAwaitingPartner) Kind() string     { return "MemoryAwaitingPartner" }
func (RASModeApplied) Kind() string            { return "RASModeApplied" }
func (MemoryCorrectableError) Kind() string    { return "MemoryCorrectableError" }
func (MemoryUncorrectableError) Kind() string  { return "MemoryUncorrectableError" }
func (MemoryCEThresholdExceeded) Kind() string { return "MemoryCEThresholdExceeded" }
func (MemoryCELoggingLimit) Kind() string      { return "MemoryCELoggingLimit" }
func (MemoryDataLost) Kind() string            { return "MemoryDataLost" }
func (MemorySpareActivated) Kind() string      { return "MemorySpareActivated" }
func (MemoryModuleMappedOut) Kind() string     { return "MemoryModuleMappedOut" }
func (MemoryRebuildStarted) Kind() string      { return "MemoryRebuildStarted" }
func (MemoryRebuildProgress) Kind() string     { return "MemoryRebuildProgress" }
func (MemoryRebuildCompleted) Kind() string    { return "MemoryRebuildCompleted" }
func (MemoryRebuildAborted) Kind() string      { return "MemoryRebuildAborted" }
func (MemoryRedundancyChanged) Kind() string   { return "MemoryRedundancyChanged" }
func (MemoryReplaceRefused) Kind() string      { return "MemoryReplaceRefused" }
