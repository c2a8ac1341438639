package webui

import (
	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/events"
)

// Health levels, worst last, as Redfish's Status.Health spells them.
const (
	HealthOK       = "OK"
	HealthWarning  = "Warning"
	HealthCritical = "Critical"
)

// Summary is one server at a glance: the page's header and a fleet
// grid's cell.
type Summary struct {
	Health string `json:"health"`
	// Why names what made Health worse than OK, worst first.
	Why          []string `json:"why,omitempty"`
	PowerState   string   `json:"power_state"`
	BootProgress string   `json:"boot_progress"`
	OSRunning    bool     `json:"os_running"`
	Slots        int      `json:"slots"`
	Populated    int      `json:"populated"`
	InstalledMiB uint64   `json:"installed_mib"`
	// OSOnlineBytes is the memory the OS has online.
	OSOnlineBytes uint64 `json:"os_online_bytes"`
	// Attention counts attention LEDs lit or blinking: hands are at the
	// chassis.
	Attention  int    `json:"attention"`
	RASMode    string `json:"ras_mode"`
	Redundancy string `json:"redundancy,omitempty"`
	// RebuildPercent is the running copy's progress (-1: none).
	RebuildPercent int    `json:"rebuild_percent"`
	Generation     uint64 `json:"generation"`
	// CXLSlots counts the CXL hot-plug slots; the page shows its CXL
	// panel only on a board that has some.
	CXLSlots int `json:"cxl_slots,omitempty"`
}

var healthRank = map[string]int{HealthOK: 0, HealthWarning: 1, HealthCritical: 2}

// Summarize rolls a snapshot up the way a BMC rolls its components'
// Status.Health up to the system's HealthRollup: the worst module, and a
// memory protection that no longer protects (redundancy lost or degraded,
// or a RAS mode the population could not support) at least Warning.
func Summarize(s *platform.Snapshot) Summary {
	sum := Summary{Health: HealthOK, PowerState: s.Host.PowerState, BootProgress: s.Host.BootProgress, OSRunning: s.Host.OSRunning,
		Slots: len(s.Slots), Populated: s.Populated(), InstalledMiB: s.InstalledMiB(), OSOnlineBytes: s.Kernel.OnlineBytes,
		RASMode: s.RAS.Mode, Redundancy: s.RAS.Redundancy, RebuildPercent: -1, Generation: s.Generation}
	worse := func(h, why string) {
		if healthRank[h] > healthRank[sum.Health] {
			sum.Health = h
			sum.Why = append([]string{why}, sum.Why...)
		} else if h != HealthOK {
			sum.Why = append(sum.Why, why)
		}
	}
	for _, sl := range s.Slots {
		switch sl.Health {
		case "critical":
			worse(HealthCritical, sl.Name+": "+reason(sl))
		case "warning":
			worse(HealthWarning, sl.Name+": "+reason(sl))
		}
		if sl.AttentionLED != "" && sl.AttentionLED != "Off" {
			sum.Attention++
		}
	}
	switch s.RAS.Redundancy {
	case events.RedundancyLost:
		worse(HealthWarning, "memory redundancy lost")
	case events.RedundancyDegraded:
		worse(HealthWarning, "memory redundancy degraded")
	}
	if s.RAS.ConfigError != "" {
		worse(HealthWarning, "RAS configuration error: "+s.RAS.ConfigError)
	}
	if s.RAS.Job != nil {
		sum.RebuildPercent = s.RAS.Job.Percent
	}
	if s.CXL != nil {
		sum.CXLSlots = len(s.CXL.Slots)
	}
	return sum
}

func reason(sl platform.Slot) string {
	if sl.Reason != "" {
		return sl.Reason
	}
	return sl.State
}
