package ipmi

import (
	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/sel"
)

// The memory RAS sensor: one board-wide sensor (entity 07h.1, system
// board: a mirror pair, a channel's spare and the RAID5 array all span
// several DIMMs) whose form follows the mode the firmware applied at boot.
//
//   - A redundant mode (Mirroring, RankSparing, RAID5): "MEM_REDUNDANCY",
//     sensor type 0Ch Memory with the generic redundancy event/reading type
//     0Bh (v2.0 Table 42-2), reading the server's overall redundancy (the
//     worst set), as Intel's "Mirroring Redundancy State" sensor does.
//   - AdvancedECC because the requested mode did not fit the population:
//     "MEM_RAS_CONFIG", sensor type 0Ch, sensor-specific 6Fh, reading
//     07h Configuration Error for as long as the fallback lasts.
//   - AdvancedECC as requested: no RAS sensor.
//
// Both forms share sensor number BFh, the one number left between the
// Slot/Connector sensors (60h..BEh) and the temperatures and fans
// (C0h..FEh; the whole map is in board.go);
// they never coexist, because the mode is fixed until the next boot. A
// record logged in one boot keeps its meaning in the next: SEL records
// carry their own event type, so ipmitool decodes them the same way
// whichever SDR the sensor has now.
const (
	rasSensorNumber              = 0xBF
	recordRAS             uint16 = 0x0500
	readingTypeRedundancy        = 0x0B

	// Redundancy offsets (event type 0Bh).
	redFullyRedundant = 0x00
	redLost           = 0x01
	redDegraded       = 0x02
	// redInsufficient is "Non-redundant: Insufficient Resources": the
	// platform reports NonRedundant only once data was lost, which is
	// exactly "cannot maintain normal operation" (03h, "sufficient
	// resources", would claim the OS's data is still whole).
	redInsufficient = 0x05

	redundancyEvents = uint16(1<<redFullyRedundant | 1<<redLost | 1<<redDegraded | 1<<redInsufficient)
)

// Event data 1 [7:4] of the RAS records (Table 29-6).
const (
	// Redundancy transition: data 2 holds the previous state (01b) and
	// data 3 an OEM code (10b): the ordinal of the changed set's first
	// module, i.e. its Memory sensor number minus one. Either is left
	// unspecified when unknown.
	redTransitionData1Prev = 0x40
	redTransitionData1Set  = 0x20
	// Data lost with no module named: data 2 OEM (10b), data 3
	// unspecified.
	redDataLostData1 = 0x80
	// Configuration error: data 2 unspecified, data 3 OEM (10b): the
	// requested mode's code.
	rasConfigData1 = 0x20
	// previousUnspecified is data 2 [7:4] of a transition: no severity
	// (Fh), the previous offset in [3:0].
	previousUnspecified = 0xF0
)

// OEM codes in event data 2 of the memory records, so that a PEF filter
// (which can mask event data 2) or a log reader can tell a UE the
// redundancy absorbed from one that cost data.
const (
	oemRecovered    = 0x00 // UE: the mirror copy or RAID parity supplied the data
	oemNotRecovered = 0x01 // UE: no redundancy covered it (the page may have held no data)
	oemDataLost     = 0x02 // pages with no good copy left
)

// rasModeCode is event data 3 of a configuration error: the mode that
// was requested and could not be applied.
func rasModeCode(mode string) uint8 {
	switch mode {
	case "AdvancedECC":
		return 0x00
	case "Mirroring":
		return 0x01
	case "RankSparing":
		return 0x02
	case "RAID5":
		return 0x03
	}
	return 0x0F
}

// rasSensorOf reports which form of the RAS sensor the snapshot's boot
// mode gives, if any.
func rasSensorOf(snap *platform.Snapshot) (sensorKind, bool) {
	switch {
	case snap.RAS.Mode != "" && snap.RAS.Mode != "AdvancedECC":
		return redundancySensorKind, true
	case snap.RAS.ConfigError != "":
		return rasConfigSensorKind, true
	}
	return 0, false
}

// redundancyOffset maps a platform redundancy state to its 0Bh offset.
func redundancyOffset(state string) (uint8, bool) {
	switch state {
	case events.FullyRedundant:
		return redFullyRedundant, true
	case events.RedundancyLost:
		return redLost, true
	case events.RedundancyDegraded:
		return redDegraded, true
	case events.NonRedundant:
		return redInsufficient, true
	}
	return 0, false
}

// rasSensor is the compact record of the RAS sensor's form k. Events are
// assertions only: the redundancy states exclude each other, so the new
// state's assertion (with the previous state in event data 2) says what
// ended, and a deassertion per transition would double the log.
func rasSensor(k sensorKind) []byte {
	if k == redundancySensorKind {
		rec := compactSensor("MEM_REDUNDANCY", rasSensorNumber, sensorTypeMemory, readingTypeRedundancy,
			entitySystemBoard, 1, recordRAS)
		setDiscreteMasks(rec, redundancyEvents, 0, redundancyEvents)
		return rec
	}
	rec := compactSensor("MEM_RAS_CONFIG", rasSensorNumber, sensorTypeMemory, readingTypeSensorSpecial,
		entitySystemBoard, 1, recordRAS)
	setDiscreteMasks(rec, 1<<memConfigurationError, 0, 1<<memConfigurationError)
	return rec
}

// rasRecord is one record on the RAS sensor.
type rasRecord struct {
	kind   sensorKind
	offset uint8
	// latch is the redundancy state the record asserts ("" for the
	// configuration error): a record that would assert the state already
	// latched is not news.
	latch string
	data  [3]byte
	event uint8 // event/reading type
}

// rasLatch remembers what the RAS sensor last asserted, so a state is
// logged once however many platform facts report it.
type rasLatch struct {
	redundancy string
	config     bool
}

// rasRecords maps a platform event to records on the RAS sensor, given
// the state last asserted (redundancy transitions name it in data 2).
func rasRecords(e events.Event, snap *platform.Snapshot, last rasLatch) []rasRecord {
	switch ev := e.(type) {
	case events.RASModeApplied:
		if ev.ConfigError == "" || last.config {
			return nil
		}
		return []rasRecord{{kind: rasConfigSensorKind, offset: memConfigurationError, event: readingTypeSensorSpecial,
			data: [3]byte{rasConfigData1 | memConfigurationError, 0xFF, rasModeCode(ev.Requested)}}}
	case events.MemoryRedundancyChanged:
		off, ok := redundancyOffset(ev.Overall)
		if !ok || ev.Overall == last.redundancy {
			return nil
		}
		d1, d2, d3 := uint8(redTransitionData1Prev), uint8(0xFF), uint8(0xFF)
		if prev, known := redundancyOffset(last.redundancy); known {
			d2 = previousUnspecified | prev
		} else {
			d1 = 0x00
		}
		for _, name := range ev.Slots {
			if s, ok := snap.Slot(name); ok && described(s) {
				d1 |= redTransitionData1Set
				d3 = uint8(s.Ordinal)
				break
			}
		}
		data := [3]byte{d1 | off, d2, d3}
		return []rasRecord{{kind: redundancySensorKind, offset: off, latch: ev.Overall, event: readingTypeRedundancy, data: data}}
	case events.MemoryDataLost:
		// A loss on a named module is a record on that module's Memory
		// sensor (events.go); a loss no module carries alone (both mirror
		// sides, a failed RAID array) is the memory as a whole failing to
		// hold the OS's data: "insufficient resources", logged every time
		// (each loss is news), and latched so the NonRedundant transition
		// the platform reports next is not logged twice.
		if ev.Slot != "" {
			return nil
		}
		return []rasRecord{{kind: redundancySensorKind, offset: redInsufficient, latch: events.NonRedundant,
			event: readingTypeRedundancy, data: [3]byte{redDataLostData1 | redInsufficient, oemDataLost, 0xFF}}}
	}
	return nil
}

// latched returns the RAS sensor's last asserted state.
func (st *sensorStates) latched() rasLatch {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.ras
}

// assertRAS records what r asserted.
func (st *sensorStates) assertRAS(r rasRecord) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if r.kind == rasConfigSensorKind {
		st.ras.config = true
		return
	}
	st.ras.redundancy = r.latch
}

// rasEvent logs what e means on the RAS sensor. It reports whether e has
// a RAS mapping, logged or not.
// The latch follows the platform even while logging is disabled, so the
// previous state a later record names is the true one.
func (m *machine) rasEvent(e events.Event, snap *platform.Snapshot, logging bool) bool {
	recs := rasRecords(e, snap, m.states.latched())
	for _, r := range recs {
		if k, ok := rasSensorOf(snap); !ok || k != r.kind {
			m.log.Debug("RAS event for a sensor this boot's mode does not have", "kind", e.Kind())
			continue
		}
		m.states.assertRAS(r)
		if !logging {
			m.log.Debug("system event logging disabled: platform event not logged", "kind", e.Kind())
			continue
		}
		if !m.sensors.enable(rasSensorNumber, r.kind).allows(r.offset, false) {
			m.log.Debug("sensor event disabled", "sensor", rasSensorNumber, "offset", r.offset)
			continue
		}
		ev := sel.Event{GeneratorID: sel.GeneratorBMC, EvMRev: sel.EvMRev, SensorType: sensorTypeMemory,
			SensorNumber: rasSensorNumber, EventType: r.event, Data: r.data}
		if _, err := m.logEvent(ev); err != nil {
			return true
		}
	}
	return len(recs) > 0
}

// logBootRAS logs the firmware's RAS configuration outcome when the BMC
// starts. The platform reports it (RASModeApplied) while it boots, before
// any BMC can subscribe; and in the emulator every BMC start is an AC
// power-on, after which Intel's BMCs log the memory RAS configuration
// status too. Only a configuration error is logged: an applied mode is
// what the operator asked for, and the redundancy sensor's reading shows
// it.
func (m *machine) logBootRAS(snap *platform.Snapshot) {
	if snap.RAS.ConfigError == "" {
		return
	}
	m.log.Info("memory RAS configuration error logged to the SEL", "requested", snap.RAS.Requested, "mode", snap.RAS.Mode)
	m.platformEvent(events.Record{Event: events.RASModeApplied{Requested: snap.RAS.Requested, Mode: snap.RAS.Mode,
		ConfigError: snap.RAS.ConfigError, RawBytes: snap.RAS.RawBytes, UsableBytes: snap.RAS.UsableBytes}})
}
