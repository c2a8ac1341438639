package ipmi

import (
	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/cxl"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/sel"
)

// CXL memory expanders (platform/cxl). Each hot-plug slot of a CXL profile
// gets two sensors, both numbered as if the slot were one more DIMM slot
// after the board's last: its ordinal is the DIMM slots' count plus the
// port's index. The DIMMs' numbers, instances and record IDs stay where
// they were, and a profile's slots are fixed, so the CXL sensors keep
// their numbers across restarts:
//
//	"<slot> Slot"  Slot/Connector (21h), number 60h + ordinal, record 0300h + ordinal,
//	               entity 0Bh add-in card (the expander in the slot), instance after
//	               the network adapters' (fru_hw.go)
//	"<slot> Mem"   Memory (0Ch), number ordinal + 1, record 0100h + ordinal,
//	               entity 20h memory device, instance ordinal + 1 (after the DIMMs')
//
// On the cxl profile (32 DIMM slots) CXL1..CXL3 are Memory 21h..23h and
// Slot/Connector 80h..82h. A slot whose ordinal passes maxSlots gets no
// sensor, as a DIMM slot there would not.
//
// Slot/Connector event data 2 is the slot type 09h PCI Express and data 3
// the slot's physical slot number (the pciehp "Slot(N)"), Table 42-3;
// Memory event data 3 is the ordinal, as for a DIMM.
//
// Readings (Get Sensor Reading, Get Sensor Event Status) come from the
// snapshot's CXL status:
//
//	Slot  02h Device Installed  a card is seated
//	      05h Slot Power Off    the slot is not powered
//	      00h Fault Status      a powered card the drivers could not put
//	                            in service (no bridge window for its BAR,
//	                            no or a full CFMWS), or memory a surprise
//	                            removal leaked until the next reboot
//	Mem   06h Presence Detected the card's memory is mapped (a region)

// slotTypePCIe is Slot/Connector event data 2 [6:0]: PCI Express.
const slotTypePCIe = 0x09

// Sensor kinds of the CXL slots (events.go numbers the DIMM slots' kinds,
// board.go the board's).
const (
	cxlSlotSensorKind sensorKind = 110 + iota // "<slot> Slot", type 21h
	cxlMemSensorKind                          // "<slot> Mem", type 0Ch
)

// isCXLKind: a CXL slot's sensor.
func isCXLKind(k sensorKind) bool { return k == cxlSlotSensorKind || k == cxlMemSensorKind }

// cxlSensorSlot is a CXL slot resolved against a snapshot.
type cxlSensorSlot struct {
	status  cxl.SlotStatus
	ordinal int // the IPMI ordinal: after the DIMM slots
	// instance is the slot sensor's add-in card entity instance.
	instance uint8
}

// cxlOrdinalBase is the first ordinal after the board's DIMM slots.
func cxlOrdinalBase(snap *platform.Snapshot) int {
	base := len(snap.Slots)
	for _, s := range snap.Slots {
		base = max(base, s.Ordinal+1)
	}
	return base
}

// cxlSlots are the snapshot's CXL slots that fit in the IPMI numbering,
// in port order.
func cxlSlots(snap *platform.Snapshot) []cxlSensorSlot {
	if snap.CXL == nil {
		return nil
	}
	base := cxlOrdinalBase(snap)
	// The network adapters' FRU locators hold add-in card instances
	// 1..n; the expanders follow them.
	cards := min(len(snap.Hardware.NICs), maxNICFRUs)
	var out []cxlSensorSlot
	for i, s := range snap.CXL.Slots {
		ord := base + i
		if ord >= maxSlots || cards+i+1 > maxSlots {
			break
		}
		out = append(out, cxlSensorSlot{status: s, ordinal: ord, instance: uint8(cards + i + 1)})
	}
	return out
}

// cxlSlot finds a described CXL slot by name.
func cxlSlot(snap *platform.Snapshot, name string) (cxlSensorSlot, bool) {
	for _, s := range cxlSlots(snap) {
		if s.status.Slot == name {
			return s, true
		}
	}
	return cxlSensorSlot{}, false
}

// cxlSensorFor resolves sensor number n to a CXL slot's sensor.
func cxlSensorFor(snap *platform.Snapshot, n uint8) (slotSensorRef, bool) {
	for _, s := range cxlSlots(snap) {
		switch n {
		case sensorNumber(s.ordinal):
			return slotSensorRef{kind: cxlMemSensorKind, cxl: &s}, true
		case slotSensorNumber(s.ordinal):
			return slotSensorRef{kind: cxlSlotSensorKind, cxl: &s}, true
		}
	}
	return slotSensorRef{}, false
}

// Lasting states of a CXL slot, as the readings and the SEL's state
// tracking both see them.
func cxlInstalled(s cxl.SlotStatus) bool  { return s.Device != nil }
func cxlPoweredOff(s cxl.SlotStatus) bool { return !s.Power }
func cxlMemoryMapped(s cxl.SlotStatus) bool {
	return s.Device != nil && s.Device.Region != nil
}

// cxlFault: a powered card with no memory in service was refused (a card
// being brought up is never seen half done: the bus changes under one
// lock), and leaked memory stays lost until the next boot.
func cxlFault(s cxl.SlotStatus) bool {
	return s.Power && s.Device != nil && s.Device.Region == nil || len(s.Leaked) > 0
}

// cxlStates is the sensor-specific state bitmap of a CXL slot's sensor.
func cxlStates(r slotSensorRef) uint16 {
	s := r.cxl.status
	var st uint16
	if r.kind == cxlMemSensorKind {
		if cxlMemoryMapped(s) {
			st |= 1 << memPresence
		}
		return st
	}
	if cxlInstalled(s) {
		st |= 1 << slotDeviceInstalled
	}
	if cxlPoweredOff(s) {
		st |= 1 << slotPowerOff
	}
	if cxlFault(s) {
		st |= 1 << slotFault
	}
	return st
}

// cxlReadingMask are the offsets a CXL sensor's reading reports.
func cxlReadingMask(k sensorKind) uint16 {
	if k == cxlMemSensorKind {
		return 1 << memPresence
	}
	return 1<<slotFault | 1<<slotDeviceInstalled | 1<<slotPowerOff
}

// cxlEvents are the offsets a CXL sensor logs (the mapping in events.go).
func cxlEvents(k sensorKind) uint16 {
	if k == cxlMemSensorKind {
		return 1<<memUncorrectableECC | 1<<memPresence
	}
	return 1<<slotFault | 1<<slotDeviceInstalled | 1<<slotPowerOff | 1<<slotRemovalRequest
}

func cxlSlotSensorName(slot string) string { return slot + " Slot" }
func cxlMemSensorName(slot string) string  { return slot + " Mem" }

// cxlSensorRecords are the CXL slots' compact sensor records.
func cxlSensorRecords(snap *platform.Snapshot) []sdrRecord {
	var out []sdrRecord
	for _, s := range cxlSlots(snap) {
		id := recordSensor0 + uint16(s.ordinal)
		rec := compactSensor(cxlMemSensorName(s.status.Slot), sensorNumber(s.ordinal), sensorTypeMemory, readingTypeSensorSpecial,
			entityMemoryDevice, entityInstance(s.ordinal), id)
		ev := cxlEvents(cxlMemSensorKind)
		setDiscreteMasks(rec, ev, ev, cxlReadingMask(cxlMemSensorKind))
		out = append(out, sdrRecord{id: id, data: rec})

		id = recordSlot0 + uint16(s.ordinal)
		rec = compactSensor(cxlSlotSensorName(s.status.Slot), slotSensorNumber(s.ordinal), sensorTypeSlotConnector,
			readingTypeSensorSpecial, entityAddInCard, s.instance, id)
		ev = cxlEvents(cxlSlotSensorKind)
		setDiscreteMasks(rec, ev, ev, cxlReadingMask(cxlSlotSensorKind))
		out = append(out, sdrRecord{id: id, data: rec})
	}
	return out
}

// cxlEmissions maps a CXL slot's event (the table in events.go).
func cxlEmissions(ev events.CXLDeviceChanged) []slotEmission {
	state := func(k sensorKind, off uint8, deassert bool) slotEmission {
		return slotEmission{slot: ev.Slot, emission: emission{k, off, deassert}, state: true}
	}
	occurrence := func(k sensorKind, off uint8) slotEmission {
		return slotEmission{slot: ev.Slot, emission: emission{k, off, false}}
	}
	switch ev.Op {
	case "inserted":
		return []slotEmission{state(cxlSlotSensorKind, slotDeviceInstalled, false)}
	case "enabled":
		return []slotEmission{
			state(cxlSlotSensorKind, slotPowerOff, true),
			state(cxlMemSensorKind, memPresence, false),
		}
	case "refused":
		// pciehp powered the slot before the drivers failed, and it stays
		// powered until the button is pressed again.
		return []slotEmission{
			state(cxlSlotSensorKind, slotPowerOff, true),
			occurrence(cxlSlotSensorKind, slotFault),
		}
	case "removal-refused":
		return []slotEmission{occurrence(cxlSlotSensorKind, slotRemovalRequest)}
	case "disabled":
		return []slotEmission{
			state(cxlMemSensorKind, memPresence, true),
			state(cxlSlotSensorKind, slotPowerOff, false),
		}
	case "pulled", "surprise":
		var out []slotEmission
		if ev.Poisoned > 0 {
			ue := occurrence(cxlMemSensorKind, memUncorrectableECC)
			ue.oem, ue.data2 = true, oemDataLost
			out = append(out, ue)
		}
		if ev.Poisoned > 0 || ev.Leaked > 0 {
			out = append(out, occurrence(cxlSlotSensorKind, slotFault))
		}
		return append(out,
			state(cxlMemSensorKind, memPresence, true),
			state(cxlSlotSensorKind, slotPowerOff, false),
			state(cxlSlotSensorKind, slotDeviceInstalled, true))
	}
	return nil
}

// seedCXL records the CXL slots' lasting states at BMC start; the caller
// holds st.mu.
func (st *sensorStates) seedCXL(snap *platform.Snapshot) {
	for _, s := range cxlSlots(snap) {
		for _, k := range cxlStateKeys(s.status) {
			st.on[k.key] = k.on
		}
	}
}

type cxlStateKey struct {
	key stateKey
	on  bool
}

// cxlStateKeys are a slot's lasting states in the order they come up.
func cxlStateKeys(s cxl.SlotStatus) []cxlStateKey {
	return []cxlStateKey{
		{stateKey{s.Slot, cxlSlotSensorKind, slotDeviceInstalled}, cxlInstalled(s)},
		{stateKey{s.Slot, cxlSlotSensorKind, slotPowerOff}, cxlPoweredOff(s)},
		{stateKey{s.Slot, cxlMemSensorKind, memPresence}, cxlMemoryMapped(s)},
	}
}

// cxlBootEmissions are the lasting-state changes a new boot made without
// an event of their own: firmware powers every slot holding a card and
// the drivers bring it up (platform.buildCXL), which the BMC's sensor scan
// sees at POST. They are taken at RASModeApplied, which every POST
// publishes once its boot is in service; not at power-off, where the
// platform already shows the slots as the next POST will find them.
// Per slot, states going away come first, in the reverse of the order
// states come up in; a card the boot powered but could not put in
// service is a fault, as after a refused button press.
func (st *sensorStates) cxlBootEmissions(snap *platform.Snapshot) []slotEmission {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []slotEmission
	for _, s := range cxlSlots(snap) {
		var down, up []slotEmission
		for _, k := range cxlStateKeys(s.status) {
			if st.on[k.key] == k.on {
				continue
			}
			se := slotEmission{slot: s.status.Slot, emission: emission{k.key.sensor, k.key.offset, !k.on}, state: true}
			// An empty slot has Power Off asserted and the rest not.
			empty := k.key.sensor == cxlSlotSensorKind && k.key.offset == slotPowerOff
			if k.on == empty {
				down = append([]slotEmission{se}, down...)
				continue
			}
			up = append(up, se)
			if empty && cxlFault(s.status) {
				// Powered at POST and refused by the drivers, as a
				// button press would have been.
				up = append(up, slotEmission{slot: s.status.Slot, emission: emission{cxlSlotSensorKind, slotFault, false}})
			}
		}
		out = append(append(out, down...), up...)
	}
	return out
}

// logCXL logs one emission on a CXL slot's sensor; false when the SEL
// refused the record.
func (m *machine) logCXL(snap *platform.Snapshot, em slotEmission) bool {
	s, ok := cxlSlot(snap, em.slot)
	if !ok {
		m.log.Debug("CXL event names no described slot", "slot", em.slot)
		return true
	}
	if em.state && !m.states.change(em) {
		return true
	}
	r := slotSensorRef{kind: em.sensor, cxl: &s}
	if n := r.number(); !m.sensors.enable(n, em.sensor).allows(em.offset, em.deassert) {
		m.log.Debug("sensor event disabled", "sensor", n, "offset", em.offset)
		return true
	}
	_, err := m.logEvent(cxlSELEvent(r, em))
	return err == nil
}

// cxlSELEvent builds the SEL event for one emission on a CXL sensor.
func cxlSELEvent(r slotSensorRef, se slotEmission) sel.Event {
	e := sel.Event{GeneratorID: sel.GeneratorBMC, EvMRev: sel.EvMRev, EventType: readingTypeSensorSpecial,
		Deassertion: se.deassert, SensorType: r.sensorType(), SensorNumber: r.number()}
	if r.kind == cxlSlotSensorKind {
		e.Data = [3]byte{slotData1 | se.offset, slotTypePCIe, uint8(r.cxl.status.Number)}
		return e
	}
	e.Data = [3]byte{memData1 | se.offset, 0xFF, uint8(r.cxl.ordinal)}
	if se.oem {
		e.Data[0] |= memOEMData1
		e.Data[1] = se.data2
	}
	return e
}
