package ipmi

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/sel"
)

// Per-DIMM temperature sensors: one full SDR record per slot (sensor type
// 01h, event/reading type 01h threshold), entity 20h instance ordinal+1 like
// the slot's Memory sensor. Raw readings are whole degrees Celsius (M=1,
// B=0, both exponents 0, linear), so raw -> °C is exact.
//
// Sensor numbers C0h + ordinal: memory sensors use 01h..5Fh and
// Slot/Connector sensors 60h..BEh, and the board sensors F0h..FEh
// (board.go), leaving C0h..EFh, so slots with an ordinal of 48 or more get
// no temperature sensor.
const (
	recordTemp0           uint16 = 0x0400 // + slot ordinal: Temperature sensor
	tempSensorBase               = 0xC0
	maxTempSlots                 = cpuTempSensorBase - tempSensorBase
	sensorTypeTemperature        = 0x01
	readingTypeThreshold         = 0x01
	unitDegreesC                 = 0x01

	// Default thresholds (°C): the platform's DIMM limits. Hysteresis
	// (degrees, both directions) is the sensor's own.
	defaultUNC = platform.DIMMWarningC
	defaultUC  = platform.DIMMCriticalC
	defaultUNR = platform.DIMMFatalC
	tempHyst   = 2

	// Threshold indices, in the order of Get/Set Sensor Thresholds (v2.0
	// §35.8/§35.9) and the readable/settable masks.
	thLNC = 0
	thLC  = 1
	thLNR = 2
	thUNC = 3
	thUC  = 4
	thUNR = 5
	// upperThresholds are the thresholds a DIMM sensor has: readable and
	// settable. The lower ones do not exist (a cold DIMM is no fault).
	upperThresholds = 1<<thUNC | 1<<thUC | 1<<thUNR

	// Threshold event offsets (Table 42-2): the going-high assertions the
	// upper thresholds generate.
	offUNCHigh = 0x07
	offUCHigh  = 0x09
	offUNRHigh = 0x0B
	tempEvents = uint16(1<<offUNCHigh | 1<<offUCHigh | 1<<offUNRHigh)

	// Get Sensor Reading byte 2 bit 5.
	flagReadingUnavailable = 0x20

	// Event data 1 [7:6] = 01b trigger reading in byte 2, [5:4] = 01b
	// trigger threshold in byte 3 (Table 29-6).
	thresholdData1 = 0x50
)

// thresholdOffsets pairs each upper threshold with its going-high offset.
var thresholdOffsets = [...]struct{ th, off uint8 }{{thUNC, offUNCHigh}, {thUC, offUCHigh}, {thUNR, offUNRHigh}}

func tempSensorNumber(ordinal int) uint8 { return uint8(tempSensorBase + ordinal) }

// hasTempSensor reports whether a slot gets a temperature sensor.
func hasTempSensor(s platform.Slot) bool { return described(s) && s.Ordinal < maxTempSlots }

// tempSensorName names the sensor after its slot: "CPU0_DIMM_A1" becomes
// "CPU0_TEMP_A1".
func tempSensorName(slot string) string {
	if strings.Contains(slot, "DIMM") {
		return strings.Replace(slot, "DIMM", "TEMP", 1)
	}
	return "TEMP " + slot
}

// dimmTemperature is the slot's reading as the sensor reports it: the
// platform's modelled temperature, clamped to the one-byte range of the
// linear conversion; ok is false for an empty slot (no reading).
func dimmTemperature(s platform.Slot) (uint8, bool) {
	if s.TemperatureC == nil {
		return 0, false
	}
	return uint8(min(max(*s.TemperatureC, 0), 0xFF)), true
}

// tempSensor is the full sensor record (Table 43-1) of a slot's
// temperature sensor. It is packed by hand: go-ipmi v0.9.1 swaps the bytes
// of the 16-bit mask fields.
func tempSensor(s platform.Slot) []byte {
	tl, id := idString(tempSensorName(s.Name))
	rec := make([]byte, 48, 48+len(id))
	recID := recordTemp0 + uint16(s.Ordinal)
	rec[0], rec[1] = byte(recID), byte(recID>>8)
	rec[2] = 0x51 // SDR version
	rec[3] = 0x01 // full sensor record
	rec[5] = bmcSlaveAddress
	rec[6] = 0x00 // channel 0, LUN 0
	rec[7] = tempSensorNumber(s.Ordinal)
	rec[8] = entityMemoryDevice
	rec[9] = entityInstance(s.Ordinal)
	// Init scanning, events, thresholds, hysteresis, sensor type; event
	// generation and scanning enabled.
	rec[10] = 0x7F
	// Auto re-arm; hysteresis readable (01b); thresholds readable and
	// settable (10b); per-threshold event enables (00b).
	rec[11] = 0x40 | 0x01<<4 | 0x02<<2
	rec[12] = sensorTypeTemperature
	rec[13] = readingTypeThreshold
	// Assertion mask + lower threshold comparisons (none), deassertion mask
	// + upper threshold comparisons returned (UNC, UC, UNR), then the
	// readable and settable threshold masks.
	rec[14], rec[15] = byte(tempEvents&0xFF), byte(tempEvents>>8)
	rec[16], rec[17] = byte(tempEvents&0xFF), byte(tempEvents>>8)|0x70
	rec[18], rec[19] = upperThresholds, upperThresholds
	rec[20] = 0x00 // unsigned, no rate, no modifier
	rec[21] = unitDegreesC
	rec[22] = 0x00
	rec[23] = 0x00 // linear
	copy(rec[24:30], readingFactors())
	rec[30] = 0x01 // nominal reading given
	rec[31] = platform.DIMMIdleC
	rec[32] = defaultUNC // normal maximum
	rec[33] = 0x00
	rec[34] = 0xFF // sensor maximum
	rec[35] = 0x00 // sensor minimum
	rec[36], rec[37], rec[38] = defaultUNR, defaultUC, defaultUNC
	rec[39], rec[40], rec[41] = 0, 0, 0
	rec[42], rec[43] = tempHyst, tempHyst
	rec[47] = byte(tl)
	rec = append(rec, id...)
	rec[4] = byte(len(rec) - types.SDRRecordHeaderSize)
	return rec
}

// readingFactors are SDR bytes 25-30 (and Get Sensor Reading Factors bytes
// 3-8): M=1, tolerance 0, B=0, accuracy 0, direction input, R and B
// exponents 0.
func readingFactors() []byte { return []byte{0x01, 0x00, 0x00, 0x00, 0x01, 0x00} }

// eventEnable is one sensor's Set Sensor Event Enable state.
type eventEnable struct {
	eventsOff, scanningOff bool
	assert, deassert       uint16
}

func (e eventEnable) allows(off uint8, deassert bool) bool {
	if e.eventsOff || e.scanningOff {
		return false
	}
	mask := e.assert
	if deassert {
		mask = e.deassert
	}
	return mask&(1<<off) != 0
}

// tempState is one temperature sensor's thresholds and latched assertions.
type tempState struct {
	th       [6]uint8
	asserted uint16
}

// sensorControl holds what clients set on sensors: event enables (read on
// every Get Sensor Reading, so copy-on-write behind an atomic pointer) and
// the temperature sensors' thresholds and latched events. Volatile: a BMC
// restart restores the SDR's defaults, as on real hardware.
type sensorControl struct {
	mu      sync.Mutex // serialises writers and the threshold state
	enables atomic.Pointer[map[uint8]eventEnable]
	temps   map[uint8]*tempState
}

// supportedEvents are the event offsets a sensor kind can generate.
func supportedEvents(k sensorKind) uint16 {
	switch k {
	case slotSensorKind:
		return 1<<slotIdentify | 1<<slotDeviceInstalled | 1<<slotReadyForRemoval |
			1<<slotPowerOff | 1<<slotRemovalRequest | 1<<slotFault
	case tempSensorKind:
		return tempEvents
	case redundancySensorKind:
		return redundancyEvents
	case rasConfigSensorKind:
		return 1 << memConfigurationError
	case cpuTempSensorKind, fanSensorKind:
		return 0 // board sensors log no events (board.go)
	case cxlSlotSensorKind, cxlMemSensorKind:
		return cxlEvents(k)
	}
	return 1<<memCorrectableECC | 1<<memUncorrectableECC | 1<<memDeviceDisabled |
		1<<memCorrectableECCLimit | 1<<memPresence | 1<<memConfigurationError | 1<<memSpare
}

func (c *sensorControl) enable(n uint8, k sensorKind) eventEnable {
	if p := c.enables.Load(); p != nil {
		if e, ok := (*p)[n]; ok {
			return e
		}
	}
	return eventEnable{assert: supportedEvents(k), deassert: supportedDeassertions(k)}
}

// supportedDeassertions are the offsets a sensor kind logs deassertions
// of: the RAS sensor asserts only (ras.go), so its deassertion mask in
// the SDR is empty and its enables say the same.
func supportedDeassertions(k sensorKind) uint16 {
	if k == redundancySensorKind || k == rasConfigSensorKind {
		return 0
	}
	return supportedEvents(k)
}

// setEnable stores e; the caller holds c.mu.
func (c *sensorControl) setEnable(n uint8, e eventEnable) {
	next := map[uint8]eventEnable{}
	if p := c.enables.Load(); p != nil {
		for k, v := range *p {
			next[k] = v
		}
	}
	next[n] = e
	c.enables.Store(&next)
}

// temp returns sensor n's state; the caller holds c.mu.
func (c *sensorControl) temp(n uint8) *tempState {
	if c.temps == nil {
		c.temps = map[uint8]*tempState{}
	}
	st := c.temps[n]
	if st == nil {
		st = &tempState{}
		st.th[thUNC], st.th[thUC], st.th[thUNR] = defaultUNC, defaultUC, defaultUNR
		c.temps[n] = st
	}
	return st
}

// thresholds is a copy of sensor n's thresholds.
func (c *sensorControl) thresholds(n uint8) [6]uint8 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.temp(n).th
}

func (c *sensorControl) asserted(n uint8) uint16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.temp(n).asserted
}

// comparison is Get Sensor Reading byte 3: which thresholds the reading is
// at or beyond.
func comparison(r uint8, th [6]uint8) byte {
	var b byte
	for _, t := range thresholdOffsets {
		if r >= th[t.th] {
			b |= 1 << t.th
		}
	}
	return b
}

// thresholdEvent is the SEL event of one threshold crossing.
func thresholdEvent(s platform.Slot, off uint8, deassert bool, reading, threshold uint8) sel.Event {
	return sel.Event{GeneratorID: sel.GeneratorBMC, EvMRev: sel.EvMRev, SensorType: sensorTypeTemperature,
		SensorNumber: tempSensorNumber(s.Ordinal), EventType: readingTypeThreshold, Deassertion: deassert,
		Data: [3]byte{thresholdData1 | off, reading, threshold}}
}

// scanTemperatures is the sensor scan: it compares every temperature
// reading with its thresholds, latches going-high assertions (deasserting
// once the reading falls below threshold - hysteresis) and logs the
// enabled transitions through the event receiver (SEL, then PEF).
func (m *machine) scanTemperatures() {
	snap := m.p.Snapshot()
	var out []sel.Event
	c := &m.sensors
	c.mu.Lock()
	for _, s := range snap.Slots {
		if !hasTempSensor(s) {
			continue
		}
		r, ok := dimmTemperature(s)
		n := tempSensorNumber(s.Ordinal)
		en := c.enable(n, tempSensorKind)
		if !ok || en.scanningOff {
			continue
		}
		st := c.temp(n)
		for _, t := range thresholdOffsets {
			bit := uint16(1) << t.off
			th := st.th[t.th]
			switch {
			case st.asserted&bit == 0 && r >= th:
				st.asserted |= bit
				if en.allows(t.off, false) {
					out = append(out, thresholdEvent(s, t.off, false, r, th))
				}
			case st.asserted&bit != 0 && int(r) < int(th)-tempHyst:
				st.asserted &^= bit
				if en.allows(t.off, true) {
					out = append(out, thresholdEvent(s, t.off, true, r, th))
				}
			}
		}
	}
	c.mu.Unlock()
	if len(out) == 0 || m.enables.Load()&enableSEL == 0 {
		return
	}
	for _, e := range out {
		if _, err := m.logEvent(e); err != nil {
			return
		}
	}
}

// tempRequest resolves a request whose first byte is a temperature sensor
// number; other sensors answer 0xCC (no thresholds, factors or hysteresis),
// unknown ones 0xCB.
func tempRequest(m *machine, req []byte, minLen, maxLen int) (platform.Slot, types.CompletionCode) {
	if len(req) < minLen || len(req) > maxLen {
		return platform.Slot{}, types.CodeRequestDataLengthInvalid
	}
	s, ok := slotForSensor(m.p.Snapshot(), req[0])
	if !ok {
		return platform.Slot{}, types.CodeRequestedDataNotPresent
	}
	if s.kind != tempSensorKind {
		return platform.Slot{}, types.CodeRequestDataFieldInvalid
	}
	return s.slot, types.CodeOK
}

// tempReading is Get Sensor Reading for a temperature sensor.
func (m *machine) tempReading(s platform.Slot) []byte {
	n := tempSensorNumber(s.Ordinal)
	en := m.sensors.enable(n, tempSensorKind)
	flags := enableFlags(en)
	r, ok := dimmTemperature(s)
	if !ok {
		return []byte{0x00, flags | flagReadingUnavailable, 0x00}
	}
	return []byte{r, flags, comparison(r, m.sensors.thresholds(n))}
}

func enableFlags(en eventEnable) byte {
	var b byte
	if !en.eventsOff {
		b |= flagEventsEnabled
	}
	if !en.scanningOff {
		b |= flagScanningEnabled
	}
	return b
}

// handleGetSensorThresholds (cmd 27h).
func handleGetSensorThresholds(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) == 1 {
			snap := m.p.Snapshot()
			if b, ok := slotForSensor(snap, req[0]); ok && isBoardKind(b.kind) {
				return boardThresholdsResponse(snap, b), types.CodeOK, nil
			}
		}
		s, cc := tempRequest(m, req, 1, 1)
		if cc != types.CodeOK {
			return nil, cc, nil
		}
		th := m.sensors.thresholds(tempSensorNumber(s.Ordinal))
		return []byte{upperThresholds, 0, 0, 0, th[thUNC], th[thUC], th[thUNR]}, types.CodeOK, nil
	}
}

// handleSetSensorThresholds (cmd 26h): only the upper thresholds exist; the
// result must keep UNC <= UC <= UNR. A change is followed by a scan, so a
// threshold set below the reading asserts at once.
func handleSetSensorThresholds(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		s, cc := tempRequest(m, req, 8, 8)
		if cc != types.CodeOK {
			return nil, cc, nil
		}
		mask := req[1]
		if mask&^byte(upperThresholds) != 0 {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		n := tempSensorNumber(s.Ordinal)
		c := &m.sensors
		c.mu.Lock()
		st := c.temp(n)
		next := st.th
		for i := range 6 {
			if mask&(1<<i) != 0 {
				next[i] = req[2+i]
			}
		}
		if next[thUNC] > next[thUC] || next[thUC] > next[thUNR] {
			c.mu.Unlock()
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		st.th = next
		c.mu.Unlock()
		m.log.Info("sensor thresholds set", "sensor", tempSensorName(s.Name), "unc", next[thUNC], "uc", next[thUC], "unr", next[thUNR])
		m.scanTemperatures()
		return []byte{}, types.CodeOK, nil
	}
}

// handleGetSensorReadingFactors (cmd 23h): one linear conversion for the
// whole range.
func handleGetSensorReadingFactors(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if _, cc := tempRequest(m, req, 2, 2); cc != types.CodeOK {
			return nil, cc, nil
		}
		return append([]byte{0x00}, readingFactors()...), types.CodeOK, nil
	}
}

// handleGetSensorHysteresis (cmd 25h): request byte 2 is the reserved
// hysteresis mask (FFh). Board threshold sensors (CPU temperature, fans)
// declare "no hysteresis" in their SDR (byte 12 [5:4] = 00b, bytes 43-44
// zero) and answer 0 and 0 to match, as clients such as go-ipmi's
// GetSDRs ask every full-record threshold sensor and give up on an error.
func handleGetSensorHysteresis(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) == 2 {
			if b, ok := slotForSensor(m.p.Snapshot(), req[0]); ok && isBoardKind(b.kind) {
				return []byte{0x00, 0x00}, types.CodeOK, nil
			}
		}
		if _, cc := tempRequest(m, req, 2, 2); cc != types.CodeOK {
			return nil, cc, nil
		}
		return []byte{tempHyst, tempHyst}, types.CodeOK, nil
	}
}

// eventRequest resolves a sensor-event command's sensor, any kind.
func eventRequest(m *machine, req []byte, minLen, maxLen int) (slotSensorRef, types.CompletionCode) {
	if len(req) < minLen || len(req) > maxLen {
		return slotSensorRef{}, types.CodeRequestDataLengthInvalid
	}
	s, ok := slotForSensor(m.p.Snapshot(), req[0])
	if !ok {
		return slotSensorRef{}, types.CodeRequestedDataNotPresent
	}
	return s, types.CodeOK
}

// sensorNumberOf is the number of a resolved sensor.
func (r slotSensorRef) number() uint8 {
	switch r.kind {
	case slotSensorKind:
		return slotSensorNumber(r.slot.Ordinal)
	case tempSensorKind:
		return tempSensorNumber(r.slot.Ordinal)
	case redundancySensorKind, rasConfigSensorKind:
		return rasSensorNumber
	case cpuTempSensorKind:
		return cpuTempSensorNumber(r.board)
	case fanSensorKind:
		return fanSensorNumber(r.board)
	case cxlSlotSensorKind:
		return slotSensorNumber(r.cxl.ordinal)
	case cxlMemSensorKind:
		return sensorNumber(r.cxl.ordinal)
	}
	return sensorNumber(r.slot.Ordinal)
}

// masks reads the optional assertion/deassertion mask bytes of Set Sensor
// Event Enable and Re-arm Sensor Events (absent bytes are zero).
func masks(b []byte) (assert, deassert uint16) {
	var m [4]byte
	copy(m[:], b)
	return uint16(m[0]) | uint16(m[1]&0x7f)<<8, uint16(m[2]) | uint16(m[3]&0x7f)<<8
}

// handleGetSensorEventEnable (cmd 29h).
func handleGetSensorEventEnable(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		s, cc := eventRequest(m, req, 1, 1)
		if cc != types.CodeOK {
			return nil, cc, nil
		}
		en := m.sensors.enable(s.number(), s.kind)
		return []byte{enableFlags(en), byte(en.assert), byte(en.assert>>8) & 0x7f, byte(en.deassert), byte(en.deassert>>8) & 0x7f},
			types.CodeOK, nil
	}
}

// handleSetSensorEventEnable (cmd 28h). Bits for events the sensor cannot
// generate are ignored.
func handleSetSensorEventEnable(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		s, cc := eventRequest(m, req, 2, 6)
		if cc != types.CodeOK {
			return nil, cc, nil
		}
		action := req[1] >> 4 & 0x03
		if action == 0x03 || req[1]&0x0F != 0 {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		a, d := masks(req[2:])
		a, d = a&supportedEvents(s.kind), d&supportedDeassertions(s.kind)
		n := s.number()
		c := &m.sensors
		c.mu.Lock()
		en := c.enable(n, s.kind)
		en.eventsOff, en.scanningOff = req[1]&0x80 == 0, req[1]&0x40 == 0
		switch action {
		case 0x01:
			en.assert, en.deassert = en.assert|a, en.deassert|d
		case 0x02:
			en.assert, en.deassert = en.assert&^a, en.deassert&^d
		}
		c.setEnable(n, en)
		c.mu.Unlock()
		if s.kind == tempSensorKind {
			m.scanTemperatures()
		}
		return []byte{}, types.CodeOK, nil
	}
}

// handleRearmSensorEvents (cmd 2Ah): byte 2 bit 7 re-arms all events,
// otherwise the selected ones. A re-armed threshold that is still crossed
// asserts again on the scan that follows. Discrete sensors re-arm
// automatically: accepted, nothing to do.
func handleRearmSensorEvents(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		s, cc := eventRequest(m, req, 2, 6)
		if cc != types.CodeOK {
			return nil, cc, nil
		}
		if req[1]&0x7F != 0 {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		if s.kind != tempSensorKind {
			return []byte{}, types.CodeOK, nil
		}
		sel := uint16(0xFFFF)
		if req[1]&0x80 == 0 {
			a, d := masks(req[2:])
			sel = a | d
		}
		c := &m.sensors
		c.mu.Lock()
		c.temp(s.number()).asserted &^= sel
		c.mu.Unlock()
		m.scanTemperatures()
		return []byte{}, types.CodeOK, nil
	}
}
