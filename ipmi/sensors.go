package ipmi

import (
	"context"

	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
)

// Response flag bits shared by Get Sensor Reading (v2.0 §35.14) and Get
// Sensor Event Status (§35.13): every sensor scans and generates events.
const (
	flagEventsEnabled   = 0x80
	flagScanningEnabled = 0x40
	// discreteReserved is bit 7 of the second state byte, which the spec
	// says is returned as 1b for discrete sensors.
	discreteReserved = 0x80
)

// slotSensorRef is a sensor number resolved against the live snapshot:
// a slot's sensor, or the board-wide RAS sensor (slot zero, ras set).
type slotSensorRef struct {
	slot platform.Slot
	kind sensorKind
	ras  platform.RASStatus
	// board is the socket or fan index of a board sensor (board.go).
	board int
	// cxl is a CXL slot's, for its two kinds (cxl.go).
	cxl *cxlSensorSlot
}

// slotForSensor finds the slot and sensor kind behind a sensor number.
func slotForSensor(snap *platform.Snapshot, n uint8) (slotSensorRef, bool) {
	if n == rasSensorNumber {
		k, ok := rasSensorOf(snap)
		return slotSensorRef{kind: k, ras: snap.RAS}, ok
	}
	if n >= cpuTempSensorBase {
		return boardSensorFor(snap, n)
	}
	for _, s := range snap.Slots {
		if !described(s) {
			continue
		}
		switch n {
		case sensorNumber(s.Ordinal):
			return slotSensorRef{slot: s, kind: memorySensorKind}, true
		case slotSensorNumber(s.Ordinal):
			return slotSensorRef{slot: s, kind: slotSensorKind}, true
		}
		if hasTempSensor(s) && n == tempSensorNumber(s.Ordinal) {
			return slotSensorRef{slot: s, kind: tempSensorKind}, true
		}
	}
	return cxlSensorFor(snap, n)
}

// states is the sensor-specific state bitmap of a slot's sensor.
func (r slotSensorRef) states() uint16 {
	var st uint16
	switch r.kind {
	case cxlSlotSensorKind, cxlMemSensorKind:
		return cxlStates(r)
	case redundancySensorKind:
		if off, ok := redundancyOffset(r.ras.Redundancy); ok {
			st |= 1 << off
		}
		return st
	case rasConfigSensorKind:
		if r.ras.ConfigError != "" {
			st |= 1 << memConfigurationError
		}
		return st
	case slotSensorKind:
		if r.slot.Module != nil {
			st |= 1 << slotDeviceInstalled
		}
		if r.slot.LocationIndicator {
			st |= 1 << slotIdentify
		}
		return st
	}
	if r.slot.Module != nil {
		st |= 1 << memPresence
	}
	// The RAS engine's lasting verdicts on the module: out of service (a
	// failed mirror side or cartridge, a mapped-out rank) and CE logging
	// suppressed until the counters are cleared.
	if ras := r.slot.RAS; ras != nil {
		if ras.State == "Failed" || ras.State == "MappedOut" {
			st |= 1 << memDeviceDisabled
		}
		if ras.LoggingLimited {
			st |= 1 << memCorrectableECCLimit
		}
	}
	return st
}

func (r slotSensorRef) sensorType() uint8 {
	switch r.kind {
	case slotSensorKind, cxlSlotSensorKind:
		return sensorTypeSlotConnector
	case tempSensorKind, cpuTempSensorKind:
		return sensorTypeTemperature
	case fanSensorKind:
		return sensorTypeFan
	}
	return sensorTypeMemory
}

func (r slotSensorRef) readingType() uint8 {
	switch r.kind {
	case tempSensorKind, cpuTempSensorKind, fanSensorKind:
		return readingTypeThreshold
	case redundancySensorKind:
		return readingTypeRedundancy
	}
	return readingTypeSensorSpecial
}

// sensorRequest decodes the one-byte request the sensor commands share and
// resolves it against the current snapshot.
func sensorRequest(m *machine, req []byte) (slotSensorRef, types.CompletionCode) {
	return sensorRequestIn(m.p.Snapshot(), req)
}

func sensorRequestIn(snap *platform.Snapshot, req []byte) (slotSensorRef, types.CompletionCode) {
	if len(req) != 1 {
		return slotSensorRef{}, types.CodeRequestDataLengthInvalid
	}
	s, ok := slotForSensor(snap, req[0])
	if !ok {
		return slotSensorRef{}, types.CodeRequestedDataNotPresent
	}
	return s, types.CodeOK
}

// handleGetSensorReading (NetFn 04h, cmd 2Dh): go-ipmi has no handler.
func handleGetSensorReading(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		snap := m.p.Snapshot()
		s, cc := sensorRequestIn(snap, req)
		if cc != types.CodeOK {
			return nil, cc, nil
		}
		if s.kind == tempSensorKind {
			return m.tempReading(s.slot), types.CodeOK, nil
		}
		if isBoardKind(s.kind) {
			return m.boardReading(snap, s), types.CodeOK, nil
		}
		flags := enableFlags(m.sensors.enable(s.number(), s.kind))
		st := s.states()
		// Byte 1 is the analog reading, meaningless for a discrete sensor.
		return []byte{0x00, flags, byte(st), discreteReserved | byte(st>>8)&0x7f}, types.CodeOK, nil
	}
}

// handleGetSensorEventStatus (cmd 2Bh) reports the present state as the
// asserted status: it is what the sensor has latched (auto re-arm).
func handleGetSensorEventStatus(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		snap := m.p.Snapshot()
		s, cc := sensorRequestIn(snap, req)
		if cc != types.CodeOK {
			return nil, cc, nil
		}
		if isBoardKind(s.kind) {
			return m.boardEventStatus(snap, s), types.CodeOK, nil
		}
		flags := enableFlags(m.sensors.enable(s.number(), s.kind))
		if s.kind == tempSensorKind {
			a := m.sensors.asserted(s.number())
			if _, ok := dimmTemperature(s.slot); !ok {
				flags |= flagReadingUnavailable
			}
			return []byte{flags, byte(a), byte(a>>8) & 0x7f, 0x00, 0x00}, types.CodeOK, nil
		}
		st := s.states()
		return []byte{flags, byte(st), byte(st>>8) & 0x7f, 0x00, 0x00}, types.CodeOK, nil
	}
}

// handleGetSensorType (cmd 2Fh).
func handleGetSensorType(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		s, cc := sensorRequest(m, req)
		if cc != types.CodeOK {
			return nil, cc, nil
		}
		return []byte{s.sensorType(), s.readingType()}, types.CodeOK, nil
	}
}
