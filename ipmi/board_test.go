package ipmi

import (
	"testing"

	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
)

// The board sensors answer with the platform's readings and limits, and
// the numbers between the sensors that exist answer CBh.
func TestBoardSensorCommands(t *testing.T) {
	p := newPlatform(t)
	m := testMachine(t, p)
	h := p.Snapshot().Hardware
	cpu0, cpu1, fan3 := h.Processors[0], h.Processors[1], h.Fans[2]
	full := byte(flagEventsEnabled | flagScanningEnabled)
	// UNC, UC, UNR at 90, 95, 100 °C; none reached at an idle reading.
	check(t, "GetSensorReading", handleGetSensorReading(m), []call{
		{[]byte{0xF0}, types.CodeOK, []byte{byte(cpu0.TemperatureC), full, 0x00}},
		{[]byte{0xF1}, types.CodeOK, []byte{byte(cpu1.TemperatureC), full, 0x00}},
		{[]byte{0xFA}, types.CodeOK, []byte{byte(fan3.RPM / 100), full, 0x00}},
		{[]byte{0xF2}, types.CodeRequestedDataNotPresent, nil}, // two sockets
		{[]byte{0xFE}, types.CodeRequestedDataNotPresent, nil}, // six fans
	})
	check(t, "GetSensorType", handleGetSensorType(m), []call{
		{[]byte{0xF1}, types.CodeOK, []byte{0x01, 0x01}},
		{[]byte{0xFD}, types.CodeOK, []byte{0x04, 0x01}},
	})
	check(t, "GetSensorThresholds", handleGetSensorThresholds(m), []call{
		{[]byte{0xF0}, types.CodeOK, []byte{0x38, 0, 0, 0, platform.CPUWarningC, platform.CPUCriticalC, platform.CPUFatalC}},
		{[]byte{0xF8}, types.CodeOK, []byte{0x03, byte(fan3.LowerCautionRPM / 100), byte(fan3.LowerCriticalRPM / 100), 0, 0, 0, 0}},
	})
	// Read-only: the thresholds are the platform's.
	check(t, "SetSensorThresholds", handleSetSensorThresholds(m), []call{
		{[]byte{0xF0, 0x08, 0, 0, 0, 50, 0, 0}, types.CodeRequestDataFieldInvalid, nil},
	})
	check(t, "GetSensorEventStatus", handleGetSensorEventStatus(m), []call{
		{[]byte{0xF8}, types.CodeOK, []byte{full, 0, 0, 0, 0}},
	})

	// The fans stop with the host: no reading, rather than a failed fan.
	if err := p.SetPower(false); err != nil {
		t.Fatal(err)
	}
	off := p.Snapshot().Hardware.Processors[0]
	check(t, "GetSensorReading", handleGetSensorReading(m), []call{
		{[]byte{0xF8}, types.CodeOK, []byte{0x00, full | flagReadingUnavailable, 0x00}},
		{[]byte{0xF0}, types.CodeOK, []byte{byte(off.TemperatureC), full, 0x00}},
	})
}

// The lower fan thresholds compare at or below, the upper ones at or
// above, each only where it exists.
func TestBoardComparison(t *testing.T) {
	var th [6]uint8
	th[thLNC], th[thLC], th[thUNC], th[thUC], th[thUNR] = 17, 8, 90, 95, 100
	fan := uint8(1<<thLNC | 1<<thLC)
	cpu := uint8(upperThresholds)
	for _, c := range []struct {
		raw, mask uint8
		want      byte
	}{
		{50, fan, 0x00}, {17, fan, 0x01}, {8, fan, 0x03}, {0, fan, 0x03},
		{89, cpu, 0x00}, {90, cpu, 0x08}, {97, cpu, 0x18}, {100, cpu, 0x38}, {0, cpu, 0x00},
	} {
		if got := boardComparison(c.raw, th, c.mask); got != c.want {
			t.Errorf("raw %d mask %#x: %#02x, want %#02x", c.raw, c.mask, got, c.want)
		}
	}
}
