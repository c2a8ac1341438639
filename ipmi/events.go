package ipmi

import (
	"sync"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/sel"
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
	// memOEMData1 marks an OEM code in data 2 (oemRecovered...).
	memOEMData1 = 0x80
	// Slot/Connector: data 2 and 3 both sensor-specific (slot type, number).
	slotData1 = 0xF0
)

// sensorKind names the per-slot sensor a SEL record is logged against.
type sensorKind uint8

const (
	memorySensorKind     sensorKind = iota // "Memory <slot>", type 0Ch, number = ordinal+1
	slotSensorKind                         // "Slot / Connector <slot>", type 21h, number = 60h+ordinal
	tempSensorKind                         // "<slot> temperature", type 01h, number = C0h+ordinal (thermal.go)
	redundancySensorKind                   // "MEM_REDUNDANCY", type 0Ch/0Bh, number BFh (ras.go)
	rasConfigSensorKind                    // "MEM_RAS_CONFIG", type 0Ch/6Fh, number BFh (ras.go)
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
// Offsets that describe a lasting state (presence, device installed, slot
// power off, identify) are logged only when that state changes, as a real
// BMC's sensor scanning does: several platform facts may report the same
// transition (a presence pin and a completed SPD read), and the SEL must
// show it once. Offsets that describe an occurrence (an ECC error, a
// configuration error, a removal request) are logged every time.
//
//	platform event                 sensor          offset                           dir
//	ModuleInserted, SPDAccepted    Slot/Connector  02h Device Installed             assert (state)
//	                               Memory          06h Presence detected            assert (state)
//	SlotPresenceChanged            Slot/Connector  02h Device Installed             assert/deassert (state)
//	  (Present=false)              Memory          06h Presence detected            deassert (state)
//	ModuleRemoved                  Memory          06h Presence detected            deassert (state)
//	                               Slot/Connector  02h Device Installed             deassert (state)
//	LocationIndicatorChanged       Slot/Connector  01h Identify                     assert/deassert (state)
//	AttentionPressed (remove)      Slot/Connector  06h Device Removal Request       assert
//	SlotReady (installation)       Slot/Connector  03h Ready for Installation       assert
//	SlotReady (removal)            Slot/Connector  04h Ready for Removal            assert
//	SlotPowerChanged Off/Nominal   Slot/Connector  05h Slot Power Off               assert/deassert (state)
//	SPDCheckFailed                 Memory          07h Configuration Error          assert
//	TrainingFailed                 Memory          07h Configuration Error          assert
//	FirmwareFault, FirmwareTimeout Slot/Connector  00h Fault Status                 assert
//	SurpriseRemoval                Slot/Connector  00h Fault Status                 assert
//	ModuleParked                   Memory          04h Memory Device Disabled       assert
//	BusNoise (per victim)          Memory          00h Correctable ECC              assert (if any)
//	                               Memory          01h Uncorrectable ECC            assert (if any)
//	MemoryCorrectableError         Memory          00h Correctable ECC              assert
//	MemoryUncorrectableError       Memory          01h Uncorrectable ECC            assert, data 2 OEM 00h recovered / 01h not
//	MemoryDataLost (module named)  Memory          01h Uncorrectable ECC            assert, data 2 OEM 02h data lost
//	MemoryCELoggingLimit           Memory          05h Correctable ECC logging limit assert
//	MemorySpareActivated           Memory (spare)  08h Spare                        assert, data 2 OEM = failing module's ordinal
//	MemoryModuleMappedOut          Memory          04h Memory Device Disabled       assert, data 2 OEM = rank (whole module: FFh)
//	MemoryReplaceRefused           Memory          07h Configuration Error          assert
//	MemoryRedundancyChanged,       RAS sensor BFh  (ras.go)
//	  MemoryDataLost (no module),
//	  RASModeApplied (fallback)
//	MemoryCEThresholdExceeded      -               (IPMI has no offset for it; its consequences are logged:
//	                                                the CE records up to the logging limit, Spare and Device Disabled)
//	MemoryRebuild*                 -               (progress; the completed rebuild is the redundancy change)
//	MemoryAwaitingPartner,         -               (normal steps of a mirrored hot-add, an expansion and
//	  MemoryCapacityExpanded,                       a setting for the next boot; the boot that applies a
//	  RASModePending                                mode logs only a configuration error)
//	CXLDeviceChanged               CXL slot sensors (cxl.go: "<slot> Slot" type 21h, "<slot> Mem" type 0Ch)
//	  inserted                     Slot/Connector  02h Device Installed             assert (state)
//	  enabled                      Slot/Connector  05h Slot Power Off               deassert (state)
//	                               Memory          06h Presence detected            assert (state)
//	  refused                      Slot/Connector  05h Slot Power Off               deassert (state)
//	                               Slot/Connector  00h Fault Status                 assert
//	  removal-refused              Slot/Connector  06h Device Removal Request       assert
//	  disabled                     Memory          06h Presence detected            deassert (state)
//	                               Slot/Connector  05h Slot Power Off               assert (state)
//	  pulled, surprise             Memory          01h Uncorrectable ECC            assert, data 2 OEM 02h data lost (Poisoned > 0)
//	                               Slot/Connector  00h Fault Status                 assert (Poisoned or Leaked > 0)
//	                               Memory          06h Presence detected            deassert (state)
//	                               Slot/Connector  05h Slot Power Off               assert (state)
//	                               Slot/Connector  02h Device Installed             deassert (state)
//	RASModeApplied (each POST)     CXL slot sensors what the new boot changed       (state; cxlBootEmissions), and
//	                                               00h Fault Status for a card it powered and could not use
//	IOMMUFault                     -               (no platform error: see below)
//	BootOverrideChanged            -               (a setting: Get System Boot Options reads it)
//	SystemRestarted, OSBootCompleted, OSShutdown, NMIRaised: the host's records (host.go)
//	PowerChanged and the rest      -               (no memory or slot sensor expresses them)
//
// Spare is logged on the module whose spare rank took the data (the spec
// defines event data 3 of 08h as the module concerned, and the spare is
// the module that changed role); the failing module gets its own 04h
// record right after, and data 2 of the Spare record names it, so the
// pair reads as "from -> to". A UE's data 2 lets a PEF filter (which
// masks event data 2) page on lost data and not on a UE the mirror
// absorbed. A refused replacement is a configuration error of the slot,
// as a bad SPD or failed training is: the module seated there is one the
// mode cannot use.
//
// A refused CXL card (no bridge window for its BAR, no CFMWS, a full one)
// leaves its slot powered, as pciehp powered it before the drivers
// failed, so the refusal logs the power-on with the fault, and the next
// button press the power-off. A refused removal changed nothing but the
// request, so the request is all it logs. A surprise removal is a fault
// of the slot only when it cost something: poisoned pages (their owners
// took a machine check, hence the UE with "data lost") or memory the
// kernel could not give back until the next reboot; a card pulled from a
// powered slot with nothing in use is told by the presence and power
// records alone.
//
// An IOMMUFault gets no record. It is the DMA remapping unit doing its
// job: VT-d blocks the request (a read gets an Unsupported Request
// completion, a write is dropped), records it in its fault recording
// registers and interrupts the OS, which logs the DMAR line. Nothing
// reaches the platform's error logic the BMC watches: no SERR#, no
// machine check. Critical Interrupt (13h) 05h "PCI SERR" would report a
// system error the platform never had, and a PEF filter paging on SERR
// would page on every blocked access of a buggy or hostile device; the
// fault is in the OS's log and the control API's IOMMU counters.
type slotEmission struct {
	slot string
	emission
	state bool // a lasting state: log only on change
	// oem puts data2 in event data 2 as an OEM code (data 1 [7:6] = 10b)
	// instead of leaving it unspecified.
	oem   bool
	data2 uint8
	// peer, when set, is a module whose ordinal becomes the OEM code.
	peer string
}

func emissions(e events.Event) []slotEmission {
	one := func(slot string, k sensorKind, off uint8, deassert, state bool) []slotEmission {
		return []slotEmission{{slot: slot, emission: emission{k, off, deassert}, state: state}}
	}
	memOEM := func(slot string, off, code uint8) []slotEmission {
		return []slotEmission{{slot: slot, emission: emission{memorySensorKind, off, false}, oem: true, data2: code}}
	}
	installed := func(slot string) []slotEmission {
		return []slotEmission{
			{slot: slot, emission: emission{slotSensorKind, slotDeviceInstalled, false}, state: true},
			{slot: slot, emission: emission{memorySensorKind, memPresence, false}, state: true},
		}
	}
	gone := func(slot string) []slotEmission {
		return []slotEmission{
			{slot: slot, emission: emission{memorySensorKind, memPresence, true}, state: true},
			{slot: slot, emission: emission{slotSensorKind, slotDeviceInstalled, true}, state: true},
		}
	}
	switch ev := e.(type) {
	case events.ModuleInserted:
		return installed(ev.Slot)
	case events.SPDAccepted:
		return installed(ev.Slot)
	case events.ModuleRemoved:
		return gone(ev.Slot)
	case events.SlotPresenceChanged:
		if ev.Present {
			return one(ev.Slot, slotSensorKind, slotDeviceInstalled, false, true)
		}
		return gone(ev.Slot)
	case events.LocationIndicatorChanged:
		return one(ev.Slot, slotSensorKind, slotIdentify, !ev.On, true)
	case events.AttentionPressed:
		if ev.Intent == "remove" {
			return one(ev.Slot, slotSensorKind, slotRemovalRequest, false, false)
		}
	case events.SlotReady:
		switch ev.For {
		case "installation":
			return one(ev.Slot, slotSensorKind, slotReadyForInstall, false, false)
		case "removal":
			return one(ev.Slot, slotSensorKind, slotReadyForRemoval, false, false)
		}
	case events.SlotPowerChanged:
		switch ev.State {
		case "Off":
			return one(ev.Slot, slotSensorKind, slotPowerOff, false, true)
		case "Nominal":
			return one(ev.Slot, slotSensorKind, slotPowerOff, true, true)
		}
	case events.SPDCheckFailed:
		return one(ev.Slot, memorySensorKind, memConfigurationError, false, false)
	case events.TrainingFailed:
		return one(ev.Slot, memorySensorKind, memConfigurationError, false, false)
	case events.FirmwareFault:
		return one(ev.Slot, slotSensorKind, slotFault, false, false)
	case events.FirmwareTimeout:
		return one(ev.Slot, slotSensorKind, slotFault, false, false)
	case events.SurpriseRemoval:
		return one(ev.Slot, slotSensorKind, slotFault, false, false)
	case events.ModuleParked:
		return one(ev.Slot, memorySensorKind, memDeviceDisabled, false, false)
	case events.BusNoise:
		var out []slotEmission
		for _, v := range ev.Victims {
			if v.Correctable > 0 {
				out = append(out, slotEmission{slot: v.Slot, emission: emission{memorySensorKind, memCorrectableECC, false}})
			}
			if v.Uncorrectable > 0 {
				out = append(out, slotEmission{slot: v.Slot, emission: emission{memorySensorKind, memUncorrectableECC, false}})
			}
		}
		return out

	// Memory RAS (ras.go has the board-wide records).
	case events.MemoryCorrectableError:
		return one(ev.Slot, memorySensorKind, memCorrectableECC, false, false)
	case events.MemoryUncorrectableError:
		if ev.Recovered {
			return memOEM(ev.Slot, memUncorrectableECC, oemRecovered)
		}
		return memOEM(ev.Slot, memUncorrectableECC, oemNotRecovered)
	case events.MemoryDataLost:
		if ev.Slot != "" {
			return memOEM(ev.Slot, memUncorrectableECC, oemDataLost)
		}
	case events.MemoryCELoggingLimit:
		return one(ev.Slot, memorySensorKind, memCorrectableECCLimit, false, false)
	case events.MemorySpareActivated:
		return []slotEmission{{slot: ev.SpareSlot, emission: emission{memorySensorKind, memSpare, false}, oem: true, peer: ev.Slot}}
	case events.MemoryModuleMappedOut:
		if ev.Rank >= 0 && ev.Rank < 0xFF {
			return memOEM(ev.Slot, memDeviceDisabled, uint8(ev.Rank))
		}
		return one(ev.Slot, memorySensorKind, memDeviceDisabled, false, false)
	case events.MemoryReplaceRefused:
		return one(ev.Slot, memorySensorKind, memConfigurationError, false, false)

	// CXL expanders (cxl.go has their sensors).
	case events.CXLDeviceChanged:
		return cxlEmissions(ev)
	}
	return nil
}

// stateKey identifies one lasting state bit of one slot sensor.
type stateKey struct {
	slot   string
	sensor sensorKind
	offset uint8
}

// sensorStates remembers which lasting states are asserted so a transition
// reported by several platform facts is logged once.
type sensorStates struct {
	mu  sync.Mutex
	on  map[stateKey]bool
	ras rasLatch
}

// seed records the states the platform is in when the BMC starts, so a
// module already present at power-on is not logged as newly inserted.
func (st *sensorStates) seed(snap *platform.Snapshot) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.on = map[stateKey]bool{}
	// The redundancy the BMC finds is not news; a configuration error is
	// (Server.New logs it: each BMC start is an AC power-on).
	st.ras = rasLatch{redundancy: snap.RAS.Redundancy}
	for _, s := range snap.Slots {
		if s.Module != nil {
			st.on[stateKey{s.Name, memorySensorKind, memPresence}] = true
			st.on[stateKey{s.Name, slotSensorKind, slotDeviceInstalled}] = true
		} else {
			// An empty slot's power rail is off until a module is ramped up.
			st.on[stateKey{s.Name, slotSensorKind, slotPowerOff}] = true
		}
		if s.LocationIndicator {
			st.on[stateKey{s.Name, slotSensorKind, slotIdentify}] = true
		}
	}
	st.seedCXL(snap)
}

// change reports whether em moves its state; it records the new state.
func (st *sensorStates) change(se slotEmission) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.on == nil {
		st.on = map[stateKey]bool{}
	}
	k := stateKey{se.slot, se.sensor, se.offset}
	asserted := !se.deassert
	if st.on[k] == asserted {
		return false
	}
	st.on[k] = asserted
	return true
}

// selEvent builds the SEL event for one emission on slot s.
func selEvent(s platform.Slot, se slotEmission) sel.Event {
	em := se.emission
	e := sel.Event{GeneratorID: sel.GeneratorBMC, EvMRev: sel.EvMRev, EventType: readingTypeSensorSpecial, Deassertion: em.deassert}
	switch em.sensor {
	case slotSensorKind:
		e.SensorType, e.SensorNumber = sensorTypeSlotConnector, slotSensorNumber(s.Ordinal)
		e.Data = [3]byte{slotData1 | em.offset, slotTypeDIMM, uint8(s.Ordinal)}
	default:
		e.SensorType, e.SensorNumber = sensorTypeMemory, sensorNumber(s.Ordinal)
		e.Data = [3]byte{memData1 | em.offset, 0xFF, uint8(s.Ordinal)}
		if se.oem {
			e.Data[0] |= memOEMData1
			e.Data[1] = se.data2
		}
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
	snap := m.p.Snapshot()
	logging := m.enables.Load()&enableSEL != 0
	onRAS := m.rasEvent(rec.Event, snap, logging)
	onHost := m.hostEvent(rec.Event, logging)
	ems := emissions(rec.Event)
	if _, boot := rec.Event.(events.RASModeApplied); boot {
		// POST built a new boot, and the CXL slots changed with it
		// (cxlBootEmissions).
		ems = append(ems, m.states.cxlBootEmissions(snap)...)
	}
	if len(ems) == 0 {
		if !onRAS && !onHost {
			m.log.Debug("platform event has no SEL mapping", "kind", rec.Event.Kind(), "seq", rec.Seq)
		}
		return
	}
	if !logging {
		m.log.Debug("system event logging disabled: platform event not logged", "kind", rec.Event.Kind())
		return
	}
	for _, em := range ems {
		if isCXLKind(em.sensor) {
			if !m.logCXL(snap, em) {
				return
			}
			continue
		}
		s, ok := snap.Slot(em.slot)
		if !ok || !described(s) {
			m.log.Debug("platform event names no described slot", "kind", rec.Event.Kind(), "slot", em.slot)
			continue
		}
		if em.state && !m.states.change(em) {
			continue
		}
		if n := (slotSensorRef{slot: s, kind: em.sensor}).number(); !m.sensors.enable(n, em.sensor).allows(em.offset, em.deassert) {
			m.log.Debug("sensor event disabled", "sensor", n, "offset", em.offset)
			continue
		}
		if em.peer != "" {
			// The peer's ordinal is the OEM code; without one it stays
			// unspecified.
			p, ok := snap.Slot(em.peer)
			em.oem, em.data2 = ok && described(p), uint8(p.Ordinal)
		}
		if _, err := m.logEvent(selEvent(s, em)); err != nil {
			return
		}
	}
}

// eventSource is the optional platform capability that feeds the SEL.
type eventSource interface {
	Handle(name string, depth int, fn func(events.Record)) *events.Handler
}

// selPump turns platform events into SEL records, one at a time in stream
// order; it runs only while events wait (events.Bus.Handle).
type selPump struct {
	m       *machine
	ready   chan struct{} // closed once New has seeded the sensor states
	lastSeq uint64
}

func (p *selPump) handle(rec events.Record) {
	<-p.ready
	m := p.m
	if p.lastSeq != 0 && rec.Seq != p.lastSeq+1 {
		m.log.Warn("platform events lost before reaching the SEL", "from", p.lastSeq+1, "to", rec.Seq-1)
	}
	p.lastSeq = rec.Seq
	m.platformEvent(rec)
	m.scanTemperatures()
}
