package ipmi

import (
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
)

// Layout of the SDR repository. Record IDs are fixed per slot so that a
// client holding an ID from an earlier walk still finds the same record.
const (
	recordMC        uint16 = 0x0001
	recordSensor0   uint16 = 0x0100 // + slot ordinal: Memory sensor
	recordLocator0  uint16 = 0x0200 // + slot ordinal: FRU Device Locator
	recordSlot0     uint16 = 0x0300 // + slot ordinal: Slot/Connector sensor
	bmcSlaveAddress        = 0x20

	entityMgmtModule   = 0x06 // System Management Module: the BMC itself
	entitySystemBoard  = 0x07 // the board: memory redundancy spans its channels
	entityMemoryDevice = 0x20 // a DIMM

	sensorTypeMemory         = 0x0C
	sensorTypeSlotConnector  = 0x21
	readingTypeSensorSpecial = 0x6F

	// slotSensorBase + slot ordinal is the slot's Slot/Connector sensor
	// number; memory sensors use 01h..5Fh, so 60h..BEh are free.
	slotSensorBase = 0x60

	deviceTypeFRUBehindMC = 0x10 // FRU inventory device behind management controller

	// maxSlots bounds the slots that get a sensor and a FRU: entity instances
	// 01h..5Fh are the system-relative range (v2.0 §39.1), and the slot
	// ordinal + 1 is the instance.
	maxSlots = 0x5F

	idStringMax = 16
)

// sensorNumber, fruDeviceID and entityInstance all derive from the slot
// ordinal plus one: sensor and FRU number 0 are taken (FRU 0 is the board)
// and instances read naturally as 32.1 for the first slot.
func sensorNumber(ordinal int) uint8     { return uint8(ordinal + 1) }
func slotSensorNumber(ordinal int) uint8 { return uint8(slotSensorBase + ordinal) }
func fruDeviceID(ordinal int) uint8      { return uint8(ordinal + 1) }
func entityInstance(ordinal int) uint8   { return uint8(ordinal + 1) }

// described reports whether a slot fits in the IPMI numbering.
func described(s platform.Slot) bool { return s.Ordinal >= 0 && s.Ordinal < maxSlots }

// repository is the SDR repository derived from one snapshot.
type repository struct {
	snap    *platform.Snapshot
	records []sdrRecord // sorted by id
	// fingerprint changes exactly when the set of records changes; SDR
	// reservations are cancelled by it.
	fingerprint uint64
}

type sdrRecord struct {
	id   uint16
	data []byte
}

// repository returns the view of the current snapshot, rebuilding it only
// when the platform has moved to a new snapshot.
func (m *machine) repository() *repository {
	snap := m.p.Snapshot()
	if r := m.memo.Load(); r != nil && r.snap == snap {
		return r
	}
	r := buildRepository(snap)
	m.memo.Store(r)
	return r
}

func buildRepository(snap *platform.Snapshot) *repository {
	r := &repository{snap: snap}
	r.add(recordMC, mcLocator())
	h := fnv.New64a()
	for _, s := range snap.Slots {
		if !described(s) {
			continue
		}
		r.add(recordSensor0+uint16(s.Ordinal), memorySensor(s))
		r.add(recordSlot0+uint16(s.Ordinal), slotSensor(s))
		if hasTempSensor(s) {
			r.add(recordTemp0+uint16(s.Ordinal), tempSensor(s))
		}
		if s.Module != nil {
			r.add(recordLocator0+uint16(s.Ordinal), fruLocator(s))
			h.Write([]byte{byte(s.Ordinal)})
		}
	}
	// Processor temperatures and fans (board.go) and the processors' and
	// NICs' FRU locators (fru_hw.go); the hardware is fixed, so they do
	// not change the fingerprint.
	r.records = append(r.records, boardSensorRecords(snap)...)
	r.records = append(r.records, hardwareFRULocators(snap)...)
	// The CXL slots' sensors (cxl.go) are the profile's, there whatever
	// the slots hold.
	r.records = append(r.records, cxlSensorRecords(snap)...)
	// The RAS sensor follows the mode the firmware applied at boot; which
	// of its two forms is present is part of the record set.
	if k, ok := rasSensorOf(snap); ok {
		r.add(recordRAS, rasSensor(k))
		h.Write([]byte{0xFF, byte(k)})
	}
	slices.SortFunc(r.records, func(a, b sdrRecord) int { return int(a.id) - int(b.id) })
	r.fingerprint = h.Sum64()
	return r
}

func (r *repository) add(id uint16, data []byte) {
	r.records = append(r.records, sdrRecord{id: id, data: data})
}

func (r *repository) ids() []uint16 {
	out := make([]uint16, len(r.records))
	for i, rec := range r.records {
		out[i] = rec.id
	}
	return out
}

func (r *repository) record(id uint16) ([]byte, bool) {
	i, ok := r.index(id)
	if !ok {
		return nil, false
	}
	return r.records[i].data, true
}

// index resolves a Get SDR record ID: 0000h is the first record and FFFFh
// the last (v2.0 §33.12).
func (r *repository) index(id uint16) (int, bool) {
	if len(r.records) == 0 {
		return 0, false
	}
	switch id {
	case 0x0000:
		return 0, true
	case 0xFFFF:
		return len(r.records) - 1, true
	}
	return slices.BinarySearchFunc(r.records, id, func(rec sdrRecord, id uint16) int { return int(rec.id) - int(id) })
}

// next is the "Next Record ID" after index i; FFFFh marks the end.
func (r *repository) next(i int) uint16 {
	if i+1 < len(r.records) {
		return r.records[i+1].id
	}
	return 0xFFFF
}

func (r *repository) size() int {
	n := 0
	for _, rec := range r.records {
		n += len(rec.data)
	}
	return n
}

// changedAt is both the most-recent-addition and most-recent-erase time.
// It comes from the persisted inventory change time, so it survives a
// restart unchanged (freeipmi keeps its SDR cache) and moves whenever a
// module is inserted or removed (the cache is invalidated). Power changes
// also move it; that costs a client one needless re-read.
func (r *repository) changedAt() time.Time { return r.snap.ChangedAt }

func idString(s string) (types.TypeLength, []byte) {
	b := []byte(s)
	if len(b) > idStringMax {
		b = b[:idStringMax]
	}
	return types.TypeLength(0xC0 | byte(len(b))), b
}

// mcLocator describes the BMC: which device functions it offers, matching
// Get Device ID.
func mcLocator() []byte {
	tl, id := idString("BMC")
	mc := &types.SDRMgmtControllerDeviceLocator{
		DeviceSlaveAddress:           bmcSlaveAddress,
		DeviceCap_ChassisDevice:      true,
		DeviceCap_FRUInventoryDevice: true,
		DeviceCap_SDRRepoDevice:      true,
		DeviceCap_SELDevice:          true,
		DeviceCap_IPMBEventReceiver:  true,
		DeviceCap_SensorDevice:       true,
		EntityID:                     entityMgmtModule,
		EntityInstance:               1,
		DeviceIDTypeLength:           tl,
		DeviceIDBytes:                id,
	}
	return mc.Pack(recordMC)
}

// memorySensor is a compact record for the slot's Memory sensor. Its
// reading is "Presence detected", "Memory Device Disabled" while the RAS
// engine holds the module out of service and "Correctable ECC logging
// limit reached" while CE logging is suppressed; it generates the
// sensor-specific events of the event mapping (events.go), so its event
// masks name those offsets.
func memorySensor(s platform.Slot) []byte {
	rec := compactSensor(s.Name, sensorNumber(s.Ordinal), sensorTypeMemory, readingTypeSensorSpecial,
		entityMemoryDevice, entityInstance(s.Ordinal), recordSensor0+uint16(s.Ordinal))
	events := supportedEvents(memorySensorKind)
	setDiscreteMasks(rec, events, events, 1<<memPresence|1<<memDeviceDisabled|1<<memCorrectableECCLimit)
	return rec
}

// slotSensor is the slot's Slot/Connector sensor (type 21h), which carries
// the hot-plug steps: Device Installed while a module is seated, Identify
// while the slot LED is lit.
func slotSensor(s platform.Slot) []byte {
	rec := compactSensor(slotSensorName(s.Name), slotSensorNumber(s.Ordinal), sensorTypeSlotConnector,
		readingTypeSensorSpecial, entityMemoryDevice, entityInstance(s.Ordinal), recordSlot0+uint16(s.Ordinal))
	events := supportedEvents(slotSensorKind)
	setDiscreteMasks(rec, events, events, 1<<slotIdentify|1<<slotDeviceInstalled)
	return rec
}

// slotSensorName names the slot's connector sensor after the slot, distinct
// from the DIMM's own: "CPU0_DIMM_A1" becomes "CPU0_SLOT_A1".
func slotSensorName(slot string) string {
	if strings.Contains(slot, "DIMM") {
		return strings.Replace(slot, "DIMM", "SLOT", 1)
	}
	return "SLOT " + slot
}

func compactSensor(name string, number, sensorType, readingType, entity, instance uint8, id uint16) []byte {
	tl, idb := idString(name)
	c := &types.SDRCompact{
		GeneratorID:          bmcSlaveAddress, // owner 20h, LUN 0, channel 0
		SensorNumber:         types.SensorNumber(number),
		SensorEntityID:       types.EntityID(entity),
		SensorEntityInstance: types.EntityInstance(instance),
		SensorInitialization: types.SensorInitialization{InitScanning: true, InitEvents: true,
			EventGenerationEnabled: true, SensorScanningEnabled: true},
		SensorCapabilities: types.SensorCapabilities{
			AutoRearm:           true,
			EventMessageControl: 0x00, // per-state enables
		},
		SensorType:             types.SensorType(sensorType),
		SensorEventReadingType: types.EventReadingType(readingType),
		IDStringTypeLength:     tl,
		IDStringBytes:          idb,
	}
	return c.Pack(id)
}

// setDiscreteMasks writes the assertion, deassertion and reading masks of a
// full or compact sensor record. go-ipmi v0.9.1 packs these 16-bit fields
// with the two bytes swapped (states 0-7 land in the second byte), which
// ipmitool and freeipmi then misread; the spec (v2.0 Table 43-2, bytes
// 15-20) has states 7:0 in the first byte.
func setDiscreteMasks(rec []byte, assert, deassert, reading uint16) {
	const off = types.SDRRecordHeaderSize + 9
	for i, v := range []uint16{assert, deassert, reading} {
		rec[off+2*i] = byte(v)
		rec[off+2*i+1] = byte(v>>8) & 0x7f
	}
}

// fruLocator names a DIMM's FRU device after its slot, which is how ipmitool
// and ipmi-fru title it.
func fruLocator(s platform.Slot) []byte {
	tl, id := idString(s.Name)
	l := &types.SDRFRUDeviceLocator{
		DeviceAccessAddress:      bmcSlaveAddress,
		FRUDeviceID_SlaveAddress: fruDeviceID(s.Ordinal),
		IsLogicalFRUDevice:       true,
		DeviceType:               deviceTypeFRUBehindMC,
		DeviceTypeModifier:       0x00, // IPMI FRU inventory format (not raw SPD)
		FRUEntityID:              entityMemoryDevice,
		FRUEntityInstance:        entityInstance(s.Ordinal),
		DeviceIDTypeLength:       tl,
		DeviceIDBytes:            id,
	}
	return l.Pack(recordLocator0 + uint16(s.Ordinal))
}
