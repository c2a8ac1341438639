package ipmi

import (
	"context"
	"reflect"

	"github.com/bmcemu/bmcemu/ipmi/sel"
	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/events"
)

// Sensor-specific offsets (IPMI v2.0 Table 42-3).
const (
	// Memory, sensor type 0Ch.
	memCorrectableECC      = 0x00
	memUncorrectableECC    = 0x01
	memDeviceDisabled      = 0x04
	memCorrectableECCLimit = 0x05
	memPresence            = 0x06
	memConfigurationError  = 0x07
	memSpare               = 0x08

	// Slot/Connector, sensor type 21h.
	slotFault           = 0x00
	slotIdentify        = 0x01
	slotDeviceInstalled = 0x02
	slotReadyForInstall = 0x03
	slotReadyForRemoval = 0x04
	slotPowerOff        = 0x05
	slotRemovalRequest  = 0x06

	// slotTypeDIMM is Slot/Connector event data 2 [6:0]: DIMM/memory device.
	slotTypeDIMM = 0x07
)

// Event data 1 [7:4] (Table 29-6): what event data 2 and 3 hold.
const (
	// Memory: data 2 unspecified (FFh), data 3 sensor-specific = module.
	memData1 = 0x30
	// Slot/Connector: data 2 and 3 both sensor-specific (slot type, number).
	slotData1 = 0xF0
)

// sensorKind names the per-slot sensor a SEL record is logged against.
type sensorKind uint8

const (
	memorySensorKind sensorKind = iota // "Memory <slot>", type 0Ch, number = ordinal+1
	slotSensorKind                     // "Slot / Connector <slot>", type 21h, number = 60h+ordinal
)

// emission is one SEL record a platform event produces.
type emission struct {
	sensor   sensorKind
	offset   uint8
	deassert bool
}

// Event mapping: platform event -> SEL records, all from generator 0020h
// (the BMC), event type 6Fh (sensor-specific), on the slot's sensors.
//
// Module number: event data 3 is the slot ordinal (0-based board order, the
// Redfish LocationOrdinalValue) on both sensors, not Intel's
// socket[7:5]/channel[4:3]/dimm[2:0] packing, which cannot number boards
// with more than 8 sockets, 4 channels or 8 DIMMs per channel. Sensor
// numbers and entity instances are ordinal + 1.
//
//	platform event            sensor            offset                          dir
//	ModuleInserted            Slot/Connector    02h Device Installed            assert
//	                          Memory            06h Presence detected           assert
//	ModuleRemoved             Memory            06h Presence detected           deassert
//	                          Slot/Connector    02h Device Installed            deassert
//	LocationIndicatorChanged  Slot/Connector    01h Identify                    assert/deassert (On)
//	PowerChanged              -                 (no memory sensor expresses it)
//
// Hot-plug events (platform/events/hotplug.go, added by others) slot in by
// kind name in hotplugEmissions; each must carry the slot name in a string
// field named Slot:
//
//	AttentionPressed          Slot/Connector    06h Device Removal Request      assert
//	SlotReadyForRemoval       Slot/Connector    04h Ready for Removal           assert
//	SlotPoweredOff            Slot/Connector    05h Slot Power Off              assert
//	SlotPoweredOn             Slot/Connector    05h Slot Power Off              deassert
//	SPDCheckFailed            Memory            07h Configuration Error         assert
//	TrainingFailed            Memory            04h Memory Device Disabled      assert
//	CorrectableECC            Memory            00h Correctable ECC             assert
//	CorrectableECCLimit       Memory            05h Correctable ECC logging limit reached
//	UncorrectableECC          Memory            01h Uncorrectable ECC           assert
//	SpareActivated            Memory            08h Spare                       assert
//
// Any other kind is ignored (logged at debug level).
func emissions(e events.Event) (slot string, out []emission) {
	switch ev := e.(type) {
	case events.ModuleInserted:
		return ev.Slot, []emission{{slotSensorKind, slotDeviceInstalled, false}, {memorySensorKind, memPresence, false}}
	case events.ModuleRemoved:
		return ev.Slot, []emission{{memorySensorKind, memPresence, true}, {slotSensorKind, slotDeviceInstalled, true}}
	case events.LocationIndicatorChanged:
		return ev.Slot, []emission{{slotSensorKind, slotIdentify, !ev.On}}
	}
	out = hotplugEmissions(e.Kind())
	if out == nil {
		return "", nil
	}
	return slotField(e), out
}

func hotplugEmissions(kind string) []emission {
	one := func(k sensorKind, off uint8, deassert bool) []emission { return []emission{{k, off, deassert}} }
	switch kind {
	case "AttentionPressed", "AttentionButtonPressed":
		return one(slotSensorKind, slotRemovalRequest, false)
	case "SlotReadyForRemoval", "ReadyForRemoval":
		return one(slotSensorKind, slotReadyForRemoval, false)
	case "SlotPoweredOff":
		return one(slotSensorKind, slotPowerOff, false)
	case "SlotPoweredOn":
		return one(slotSensorKind, slotPowerOff, true)
	case "SPDCheckFailed":
		return one(memorySensorKind, memConfigurationError, false)
	case "TrainingFailed":
		return one(memorySensorKind, memDeviceDisabled, false)
	case "CorrectableECC", "CorrectableError":
		return one(memorySensorKind, memCorrectableECC, false)
	case "CorrectableECCLimit":
		return one(memorySensorKind, memCorrectableECCLimit, false)
	case "UncorrectableECC", "UncorrectableError":
		return one(memorySensorKind, memUncorrectableECC, false)
	case "SpareActivated":
		return one(memorySensorKind, memSpare, false)
	}
	return nil
}

// slotField reads the Slot string field of an event struct we do not know
// statically (hot-plug events are defined elsewhere).
func slotField(e events.Event) string {
	v := reflect.ValueOf(e)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	f := v.FieldByName("Slot")
	if !f.IsValid() || f.Kind() != reflect.String {
		return ""
	}
	return f.String()
}

// selEvent builds the SEL event for one emission on slot s.
func selEvent(s platform.Slot, em emission) sel.Event {
	e := sel.Event{GeneratorID: sel.GeneratorBMC, EvMRev: sel.EvMRev, EventType: readingTypeSensorSpecial, Deassertion: em.deassert}
	switch em.sensor {
	case slotSensorKind:
		e.SensorType, e.SensorNumber = sensorTypeSlotConnector, slotSensorNumber(s.Ordinal)
		e.Data = [3]byte{slotData1 | em.offset, slotTypeDIMM, uint8(s.Ordinal)}
	default:
		e.SensorType, e.SensorNumber = sensorTypeMemory, sensorNumber(s.Ordinal)
		e.Data = [3]byte{memData1 | em.offset, 0xFF, uint8(s.Ordinal)}
	}
	return e
}

// logEvent is the event receiver: the event goes to the SEL and then to PEF.
func (m *machine) logEvent(e sel.Event) (sel.Record, error) {
	r, err := m.sel.Add(e.Record())
	if err != nil {
		m.log.Warn("event not logged", "sensor_type", e.SensorType, "sensor", e.SensorNumber, "err", err)
		return sel.Record{}, err
	}
	m.pef.process(r)
	return r, nil
}

// platformEvent logs what one platform event means in the SEL.
func (m *machine) platformEvent(rec events.Record) {
	name, ems := emissions(rec.Event)
	if len(ems) == 0 {
		m.log.Debug("platform event has no SEL mapping", "kind", rec.Event.Kind(), "seq", rec.Seq)
		return
	}
	s, ok := m.p.Snapshot().Slot(name)
	if !ok || !described(s) {
		m.log.Debug("platform event names no described slot", "kind", rec.Event.Kind(), "slot", name)
		return
	}
	for _, em := range ems {
		if _, err := m.logEvent(selEvent(s, em)); err != nil {
			return
		}
	}
}

// eventSource is the optional platform capability that feeds the SEL.
type eventSource interface {
	Subscribe(name string, depth int) *events.Subscription
}

// pumpEvents turns platform events into SEL records until ctx ends or the
// subscription closes.
func (m *machine) pumpEvents(ctx context.Context, sub *events.Subscription) {
	var lastSeq uint64
	for {
		select {
		case <-ctx.Done():
			return
		case rec, ok := <-sub.C:
			if !ok {
				return
			}
			if lastSeq != 0 && rec.Seq != lastSeq+1 {
				m.log.Warn("platform events lost before reaching the SEL", "from", lastSeq+1, "to", rec.Seq-1)
			}
			lastSeq = rec.Seq
			m.platformEvent(rec)
		}
	}
}
