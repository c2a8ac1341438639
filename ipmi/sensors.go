package ipmi

import (
	"context"

	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
)

// Response flag bits shared by Get Sensor Reading (v2.0 §35.14) and Get
// Sensor Event Status (§35.13). Event messages stay clear: the sensors
// generate none.
const (
	flagScanningEnabled = 0x40
	// discreteReserved is bit 7 of the second state byte, which the spec
	// says is returned as 1b for discrete sensors.
	discreteReserved = 0x80
)

// slotForSensor finds the slot behind a sensor number in the live snapshot.
func slotForSensor(snap *platform.Snapshot, n uint8) (platform.Slot, bool) {
	for _, s := range snap.Slots {
		if described(s) && sensorNumber(s.Ordinal) == n {
			return s, true
		}
	}
	return platform.Slot{}, false
}

// memoryStates is the sensor-specific state bitmap of a slot's sensor.
func memoryStates(s platform.Slot) uint16 {
	if s.Module != nil {
		return 1 << memoryPresenceOffset
	}
	return 0
}

// sensorRequest decodes the one-byte request the sensor commands share and
// resolves it against the current snapshot.
func sensorRequest(m *machine, req []byte) (platform.Slot, types.CompletionCode) {
	if len(req) != 1 {
		return platform.Slot{}, types.CodeRequestDataLengthInvalid
	}
	s, ok := slotForSensor(m.p.Snapshot(), req[0])
	if !ok {
		return platform.Slot{}, types.CodeRequestedDataNotPresent
	}
	return s, types.CodeOK
}

// handleGetSensorReading (NetFn 04h, cmd 2Dh): go-ipmi has no handler.
func handleGetSensorReading(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		s, cc := sensorRequest(m, req)
		if cc != types.CodeOK {
			return nil, cc, nil
		}
		st := memoryStates(s)
		// Byte 1 is the analog reading, meaningless for a discrete sensor.
		return []byte{0x00, flagScanningEnabled, byte(st), discreteReserved | byte(st>>8)&0x7f}, types.CodeOK, nil
	}
}

// handleGetSensorEventStatus (cmd 2Bh) reports the present state as the
// asserted status: it is what an event-generating sensor would have latched.
func handleGetSensorEventStatus(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		s, cc := sensorRequest(m, req)
		if cc != types.CodeOK {
			return nil, cc, nil
		}
		st := memoryStates(s)
		return []byte{flagScanningEnabled, byte(st), byte(st>>8) & 0x7f, 0x00, 0x00}, types.CodeOK, nil
	}
}

// handleGetSensorType (cmd 2Fh).
func handleGetSensorType(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if _, cc := sensorRequest(m, req); cc != types.CodeOK {
			return nil, cc, nil
		}
		return []byte{sensorTypeMemory, readingTypeSensorSpecial}, types.CodeOK, nil
	}
}
