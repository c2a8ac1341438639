package ipmi

import (
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
)

// Board sensors: each processor's package temperature and each chassis
// fan's speed, threshold sensors (event/reading type 01h) read from the
// platform's environment model (platform/environment.go), the values
// Redfish's Thermal shows.
//
// Sensor numbering on LUN 0 of the BMC (20h), which every sensor of this
// BMC shares:
//
//	01h..5Fh  Memory, slot ordinal + 1            (sdr.go; CXL slots after the DIMMs, cxl.go)
//	60h..BEh  Slot/Connector, 60h + ordinal       (sdr.go; likewise)
//	BFh       memory RAS (redundancy or config)   (ras.go)
//	C0h..EFh  DIMM temperature, C0h + ordinal     (thermal.go; ordinals 0..2Fh)
//	F0h..F7h  processor temperature, F0h + socket (here; sockets 0..7)
//	F8h..FEh  fan speed, F8h + fan index          (here; FAN1..FAN7)
//
// FFh is reserved (v2.0 §42). The processor and fan ranges are fixed, so
// the DIMM temperatures stop at the 48th slot (a board that large has no
// C0h-based number left for more) and fans past the seventh get no
// sensor; a profile's sockets never exceed eight. Every range is disjoint
// from the others whatever the profile, so a number names one sensor.
//
// Neither kind logs events: their SDR records say so (event message
// control 11b, empty event masks), and their thresholds are readable,
// not settable. Readings are exact: °C one per count (M=1) and fan speed
// in hundreds of RPM (M=100), the platform's tachometer step.
const (
	cpuTempSensorBase        = 0xF0
	maxCPUTempSensors        = 8
	fanSensorBase            = 0xF8
	maxFanSensors            = 0xFF - fanSensorBase
	recordCPUTemp0    uint16 = 0x0600 // + socket
	recordFan0        uint16 = 0x0700 // + fan index

	entityProcessor = 0x03
	entityFan       = 0x1D // fan / cooling device
	sensorTypeFan   = 0x04
	unitRPM         = 18 // v2.0 Table 43-15
	fanRPMPerCount  = 100
)

// Sensor kinds of the board sensors (events.go numbers the slots' kinds).
const (
	cpuTempSensorKind sensorKind = 100 + iota
	fanSensorKind
)

func cpuTempSensorNumber(socket int) uint8 { return uint8(cpuTempSensorBase + socket) }
func fanSensorNumber(index int) uint8      { return uint8(fanSensorBase + index) }

func cpuTempSensorName(p platform.Processor) string { return p.ID + "_TEMP" }

// boardSensorFor resolves a sensor number in the board ranges.
func boardSensorFor(snap *platform.Snapshot, n uint8) (slotSensorRef, bool) {
	switch {
	case n >= cpuTempSensorBase && n < cpuTempSensorBase+maxCPUTempSensors:
		i := int(n - cpuTempSensorBase)
		if i < len(snap.Hardware.Processors) {
			return slotSensorRef{kind: cpuTempSensorKind, board: i}, true
		}
	case n >= fanSensorBase && n < fanSensorBase+maxFanSensors:
		i := int(n - fanSensorBase)
		if i < len(snap.Hardware.Fans) {
			return slotSensorRef{kind: fanSensorKind, board: i}, true
		}
	}
	return slotSensorRef{}, false
}

// isBoardKind: a processor temperature or fan sensor.
func isBoardKind(k sensorKind) bool { return k == cpuTempSensorKind || k == fanSensorKind }

// boardThresholds are a board sensor's thresholds in raw counts, in Get
// Sensor Thresholds order (LNC, LC, LNR, UNC, UC, UNR), and which exist.
func boardThresholds(snap *platform.Snapshot, r slotSensorRef) (th [6]uint8, mask uint8) {
	if r.kind == cpuTempSensorKind {
		th[thUNC], th[thUC], th[thUNR] = platform.CPUWarningC, platform.CPUCriticalC, platform.CPUFatalC
		return th, upperThresholds
	}
	f := snap.Hardware.Fans[r.board]
	th[thLNC], th[thLC] = uint8(f.LowerCautionRPM/fanRPMPerCount), uint8(f.LowerCriticalRPM/fanRPMPerCount)
	return th, 1<<thLNC | 1<<thLC
}

// boardRaw is a board sensor's reading in counts; ok is false when there
// is none: the fans of a host that is off are stopped (S5), which the
// sensor reports as "reading unavailable" rather than as a failed fan.
func boardRaw(snap *platform.Snapshot, r slotSensorRef) (uint8, bool) {
	if r.kind == cpuTempSensorKind {
		return uint8(min(max(snap.Hardware.Processors[r.board].TemperatureC, 0), 0xFF)), true
	}
	if !snap.PowerOn {
		return 0, false
	}
	return uint8(min(snap.Hardware.Fans[r.board].RPM/fanRPMPerCount, 0xFF)), true
}

// boardComparison is Get Sensor Reading byte 3 for a board sensor: which
// thresholds the reading is at or beyond (lower ones at or below).
func boardComparison(raw uint8, th [6]uint8, mask uint8) byte {
	var b byte
	for _, i := range []int{thLNC, thLC, thLNR} {
		if mask&(1<<i) != 0 && raw <= th[i] {
			b |= 1 << i
		}
	}
	for _, i := range []int{thUNC, thUC, thUNR} {
		if mask&(1<<i) != 0 && raw >= th[i] {
			b |= 1 << i
		}
	}
	return b
}

// boardReading is Get Sensor Reading (§35.14) for a board sensor.
func (m *machine) boardReading(snap *platform.Snapshot, r slotSensorRef) []byte {
	flags := enableFlags(m.sensors.enable(r.number(), r.kind))
	raw, ok := boardRaw(snap, r)
	if !ok {
		return []byte{0x00, flags | flagReadingUnavailable, 0x00}
	}
	th, mask := boardThresholds(snap, r)
	return []byte{raw, flags, boardComparison(raw, th, mask)}
}

// boardSensorRecords are the full sensor records of the board sensors.
func boardSensorRecords(snap *platform.Snapshot) []sdrRecord {
	var out []sdrRecord
	for i, p := range snap.Hardware.Processors {
		if i >= maxCPUTempSensors {
			break
		}
		r := slotSensorRef{kind: cpuTempSensorKind, board: i}
		th, mask := boardThresholds(snap, r)
		rec := thresholdRecord(thresholdSpec{
			id: recordCPUTemp0 + uint16(i), number: cpuTempSensorNumber(i), name: cpuTempSensorName(p),
			sensorType: sensorTypeTemperature, entity: entityProcessor, instance: uint8(i + 1), unit: unitDegreesC,
			m: 1, nominal: platform.AmbientC + 20, normalMax: platform.CPUWarningC, th: th, mask: mask,
		})
		out = append(out, sdrRecord{id: recordCPUTemp0 + uint16(i), data: rec})
	}
	for i, f := range snap.Hardware.Fans {
		if i >= maxFanSensors {
			break
		}
		r := slotSensorRef{kind: fanSensorKind, board: i}
		th, mask := boardThresholds(snap, r)
		rec := thresholdRecord(thresholdSpec{
			id: recordFan0 + uint16(i), number: fanSensorNumber(i), name: f.ID,
			sensorType: sensorTypeFan, entity: entityFan, instance: uint8(i + 1), unit: unitRPM,
			m: fanRPMPerCount, nominal: uint8(f.MinRPM / fanRPMPerCount), normalMax: uint8(min(f.MaxRPM/fanRPMPerCount, 0xFF)),
			th: th, mask: mask,
		})
		out = append(out, sdrRecord{id: recordFan0 + uint16(i), data: rec})
	}
	return out
}

// thresholdSpec describes a read-only threshold sensor's full record.
type thresholdSpec struct {
	id                 uint16
	number             uint8
	name               string
	sensorType, entity uint8
	instance, unit     uint8
	m                  uint8 // reading = m x raw (linear, B=0, exponents 0)
	nominal, normalMax uint8
	th                 [6]uint8
	mask               uint8 // which thresholds exist (readable)
}

// thresholdRecord packs a full sensor record (v2.0 Table 43-1) by hand,
// as tempSensor does: go-ipmi v0.9.1 swaps the bytes of the mask fields.
func thresholdRecord(s thresholdSpec) []byte {
	tl, id := idString(s.name)
	rec := make([]byte, 48, 48+len(id))
	rec[0], rec[1] = byte(s.id), byte(s.id>>8)
	rec[2] = 0x51 // SDR version
	rec[3] = 0x01 // full sensor record
	rec[5] = bmcSlaveAddress
	rec[6] = 0x00 // channel 0, LUN 0
	rec[7] = s.number
	rec[8] = s.entity
	rec[9] = s.instance
	// Init scanning and sensor type; scanning enabled. No events: not
	// initialised, not generated.
	rec[10] = 0x40 | 0x04 | 0x01
	// Auto re-arm; no hysteresis (00b); thresholds readable per the
	// readable mask (01b); no event messages from this sensor (11b).
	rec[11] = 0x40 | 0x01<<2 | 0x03
	rec[12] = s.sensorType
	rec[13] = readingTypeThreshold
	// No assertion or deassertion events; the threshold comparisons the
	// reading returns (lower in byte 15 [6:4], upper in byte 17 [6:4]);
	// the readable mask, nothing settable.
	lower, upper := s.mask&0x07, s.mask>>3&0x07
	rec[15] = lower << 4
	rec[17] = upper << 4
	rec[18], rec[19] = s.mask, 0
	rec[20] = 0x00 // unsigned, no rate, no modifier
	rec[21] = s.unit
	rec[23] = 0x00 // linear
	copy(rec[24:30], []byte{s.m, 0x00, 0x00, 0x00, 0x01, 0x00})
	rec[30] = 0x01 | 0x02 // nominal and normal maximum given
	rec[31], rec[32] = s.nominal, s.normalMax
	rec[34], rec[35] = 0xFF, 0x00 // sensor maximum, minimum
	rec[36], rec[37], rec[38] = s.th[thUNR], s.th[thUC], s.th[thUNC]
	rec[39], rec[40], rec[41] = s.th[thLNR], s.th[thLC], s.th[thLNC]
	rec[47] = byte(tl)
	rec = append(rec, id...)
	rec[4] = byte(len(rec) - types.SDRRecordHeaderSize)
	return rec
}

// boardThresholdsResponse is Get Sensor Thresholds (§35.9) for a board
// sensor: the readable mask, then LNC, LC, LNR, UNC, UC, UNR.
func boardThresholdsResponse(snap *platform.Snapshot, r slotSensorRef) []byte {
	th, mask := boardThresholds(snap, r)
	return []byte{mask, th[thLNC], th[thLC], th[thLNR], th[thUNC], th[thUC], th[thUNR]}
}

// boardEventStatus is Get Sensor Event Status for a board sensor:
// it generates no events, so nothing is ever asserted.
func (m *machine) boardEventStatus(snap *platform.Snapshot, r slotSensorRef) []byte {
	flags := enableFlags(m.sensors.enable(r.number(), r.kind))
	if _, ok := boardRaw(snap, r); !ok {
		flags |= flagReadingUnavailable
	}
	return []byte{flags, 0x00, 0x00, 0x00, 0x00}
}
