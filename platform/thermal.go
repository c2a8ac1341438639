package platform

import "github.com/bmcemu/bmcemu/platform/smc"

// DIMM thermal model and limits. Both BMC surfaces read a module's
// temperature from Slot.TemperatureC, so an IPMI sensor reading and a
// Redfish Sensor agree by construction; neither keeps its own model.
const (
	// AmbientC is the inlet air temperature: what a seated module settles
	// at while it draws no power (host off, or its slot rail not nominal).
	AmbientC = 24
	// DIMMIdleC is a powered module with no load, before the slot offset.
	DIMMIdleC = 35
	// DIMMLoadSpanC is what a fully used OS memory adds on top of idle.
	DIMMLoadSpanC = 10
	// DIMMSlotSpread is the number of distinct airflow positions: a slot
	// runs (ordinal mod DIMMSlotSpread) degrees above idle, half that at
	// ambient, so neighbouring modules do not all read the same.
	DIMMSlotSpread = 5
)

// DIMM temperature limits (°C), the defaults a BMC arms its thresholds
// with: warn at the JEDEC normal-range case limit (85), treat 90 as
// critical, and 95 (the extended-range limit, where refresh rates must
// double and beyond which data is at risk) as fatal.
const (
	DIMMWarningC  = 85
	DIMMCriticalC = 90
	DIMMFatalC    = 95
)

// dimmTemperature is the thermal model: an empty slot has no reading; a
// seated module sits near ambient unless the host is on and the slot's rail
// is at nominal, when it runs at DIMMIdleC plus a per-slot offset (airflow)
// plus a load term that follows how much of the OS's memory is in use.
func dimmTemperature(powerOn bool, k KernelSummary, s Slot) *int {
	if s.Module == nil {
		return nil
	}
	spread := s.Ordinal % DIMMSlotSpread
	if !powerOn || s.Power != smc.PowerNominal.String() {
		t := AmbientC + spread/2
		return &t
	}
	load := 0
	if k.TotalRAMBytes > 0 && k.FreeBytes <= k.TotalRAMBytes {
		load = int((k.TotalRAMBytes - k.FreeBytes) * DIMMLoadSpanC / k.TotalRAMBytes)
	}
	t := DIMMIdleC + spread + load
	return &t
}
