package ipmi

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
)

func parseRecord(t *testing.T, rec []byte) *types.SDR {
	t.Helper()
	sdr, err := types.ParseSDR(rec, 0)
	if err != nil {
		t.Fatalf("ParseSDR(% x): %v", rec, err)
	}
	return sdr
}

func TestRepositoryLayout(t *testing.T) {
	p := newPlatform(t)
	snap := p.Snapshot()
	r := buildRepository(snap)

	populated := snap.Populated()
	// The default board's 2 processors and 6 fans have a sensor each, its
	// 2 processors and 2 NICs a FRU locator each.
	if want := 1 + 3*len(snap.Slots) + populated + 2 + 6 + 2 + 2; len(r.records) != want {
		t.Fatalf("records = %d, want %d (MC + 3x%d sensors + %d FRU locators + 8 board sensors + 4 part locators)", len(r.records), want, len(snap.Slots), populated)
	}
	for i := 1; i < len(r.records); i++ {
		if r.records[i-1].id >= r.records[i].id {
			t.Fatalf("record IDs not strictly increasing at %d: %#04x then %#04x", i, r.records[i-1].id, r.records[i].id)
		}
	}
	if i, ok := r.index(0); !ok || i != 0 {
		t.Errorf("index(0000h) = %d, %v; want first record", i, ok)
	}
	if i, ok := r.index(0xFFFF); !ok || i != len(r.records)-1 {
		t.Errorf("index(FFFFh) = %d, %v; want last record", i, ok)
	}
	if _, ok := r.index(0x7777); ok {
		t.Error("index(7777h) found a record that does not exist")
	}
	if got := r.next(len(r.records) - 1); got != 0xFFFF {
		t.Errorf("next after last = %#04x, want FFFFh", got)
	}

	sensors, temps, locators, board, parts := 0, 0, 0, 0, 0
	for _, rec := range r.records {
		sdr := parseRecord(t, rec.data)
		if sdr.RecordHeader.RecordID != rec.id {
			t.Errorf("record %#04x carries ID %#04x", rec.id, sdr.RecordHeader.RecordID)
		}
		if int(sdr.RecordHeader.RecordLength)+5 != len(rec.data) {
			t.Errorf("record %#04x: length byte %d, body %d", rec.id, sdr.RecordHeader.RecordLength, len(rec.data)-5)
		}
		switch sdr.RecordHeader.RecordType {
		case types.SDRRecordTypeManagementControllerDeviceLocator:
			mc := sdr.MgmtControllerDeviceLocator
			if mc.DeviceSlaveAddress != 0x20 || !mc.DeviceCap_SensorDevice || !mc.DeviceCap_SDRRepoDevice ||
				!mc.DeviceCap_FRUInventoryDevice || !mc.DeviceCap_ChassisDevice || !mc.DeviceCap_SELDevice || !mc.DeviceCap_IPMBEventReceiver ||
				mc.DeviceCap_Bridge || mc.DeviceCap_IPMBEventGenerator {
				t.Errorf("MC locator = %+v, want BMC at 20h with sensor, SDR, SEL, event receiver, FRU and chassis and nothing else", mc)
			}
		case types.SDRRecordTypeCompactSensor:
			sensors++
			c := sdr.Compact
			wantType, wantName, ordinal := uint8(0x0C), "", int(c.SensorNumber)-1
			wantReading, wantEvents := [2]byte{0x70, 0x00}, [2]byte{0xF3, 0x01} // offsets 0,1,4,5,6,7,8
			if c.SensorNumber >= 0x60 {
				ordinal = int(c.SensorNumber) - 0x60
				wantType = 0x21
				wantReading, wantEvents = [2]byte{0x06, 0x00}, [2]byte{0x77, 0x00} // offsets 0,1,2,4,5,6
			}
			slot := snap.Slots[ordinal]
			wantName = slot.Name
			if wantType == 0x21 {
				wantName = strings.Replace(slot.Name, "DIMM", "SLOT", 1)
			}
			if string(c.IDStringBytes) != wantName || uint8(c.SensorType) != wantType || c.SensorEventReadingType != 0x6F ||
				c.SensorEntityID != 0x20 || int(c.SensorEntityInstance) != slot.Ordinal+1 || c.GeneratorID != 0x20 {
				t.Errorf("sensor %d = %+v, want %02Xh/6Fh sensor 32.%d named %s", c.SensorNumber, c, wantType, slot.Ordinal+1, wantName)
			}
			// Masks per spec byte order: assertion 15-16, deassertion
			// 17-18, reading 19-20.
			if got := rec.data[18:20]; [2]byte(got) != wantReading {
				t.Errorf("sensor %s reading mask = % x, want % x", wantName, got, wantReading)
			}
			if a, d := rec.data[14:16], rec.data[16:18]; [2]byte(a) != wantEvents || [2]byte(d) != wantEvents {
				t.Errorf("sensor %s event masks = % x / % x, want % x", wantName, a, d, wantEvents)
			}
		case types.SDRRecordTypeFRUDeviceLocator:
			l := sdr.FRUDeviceLocator
			if id := l.FRUDeviceID_SlaveAddress; id >= 0x60 {
				checkPartLocator(t, snap, l)
				parts++
				continue
			}
			locators++
			slot := snap.Slots[int(l.FRUDeviceID_SlaveAddress)-1]
			if slot.Module == nil {
				t.Errorf("FRU locator for empty slot %s", slot.Name)
			}
			if string(l.DeviceIDBytes) != slot.Name || !l.IsLogicalFRUDevice || l.DeviceType != 0x10 ||
				l.DeviceTypeModifier != 0 || l.FRUEntityID != 0x20 || int(l.FRUEntityInstance) != slot.Ordinal+1 || l.DeviceAccessAddress != 0x20 {
				t.Errorf("FRU locator = %+v, want logical FRU %d named %s", l, slot.Ordinal+1, slot.Name)
			}
		case types.SDRRecordTypeFullSensor:
			f := sdr.Full
			if f.SensorNumber >= 0xF0 {
				checkBoardSensor(t, snap, f, rec.data)
				board++
				continue
			}
			temps++
			slot := snap.Slots[int(f.SensorNumber)-0xC0]
			if string(f.IDStringBytes) != strings.Replace(slot.Name, "DIMM", "TEMP", 1) || f.SensorType != 0x01 ||
				f.SensorEventReadingType != 0x01 || f.SensorEntityID != 0x20 || int(f.SensorEntityInstance) != slot.Ordinal+1 ||
				f.GeneratorID != 0x20 || f.SensorUnit.BaseUnit != 0x01 || f.LinearizationFunc != 0 {
				t.Errorf("temperature sensor %d = %+v, want 01h/01h °C sensor 32.%d", f.SensorNumber, f, slot.Ordinal+1)
			}
			// raw -> °C is exact over the whole range.
			for _, raw := range []uint8{0, 1, 35, 85, 255} {
				if got := f.ConvertReading(raw); got != float64(raw) {
					t.Errorf("%s: raw %d reads %v °C", slot.Name, raw, got)
				}
			}
			if f.UNC_Raw != 85 || f.UCR_Raw != 90 || f.UNR_Raw != 95 || f.PositiveHysteresisRaw != 2 || f.NegativeHysteresisRaw != 2 {
				t.Errorf("%s thresholds %d/%d/%d hysteresis %d/%d", slot.Name, f.UNC_Raw, f.UCR_Raw, f.UNR_Raw,
					f.PositiveHysteresisRaw, f.NegativeHysteresisRaw)
			}
			// Going-high UNC/UC/UNR events (offsets 7, 9, Bh); upper
			// thresholds compared; UNC, UC, UNR readable and settable.
			if got, want := rec.data[14:20], []byte{0x80, 0x0A, 0x80, 0x7A, 0x38, 0x38}; !bytes.Equal(got, want) {
				t.Errorf("%s masks = % x, want % x", slot.Name, got, want)
			}
		default:
			t.Errorf("unexpected record type %v", sdr.RecordHeader.RecordType)
		}
	}
	if sensors != 64 || locators != populated || temps != 32 || board != 8 || parts != 4 {
		t.Errorf("sensors = %d, temperature sensors = %d, locators = %d, board sensors %d, part locators %d; want 64, 32, %d, 8 and 4",
			sensors, temps, locators, board, parts, populated)
	}
}

// checkBoardSensor holds a processor temperature (F0h + socket) or fan
// (F8h + index) record to board.go's numbering and the platform's limits.
func checkBoardSensor(t *testing.T, snap *platform.Snapshot, f *types.SDRFull, rec []byte) {
	t.Helper()
	n := int(f.SensorNumber)
	if n < 0xF8 {
		c := snap.Hardware.Processors[n-0xF0]
		if string(f.IDStringBytes) != c.ID+"_TEMP" || f.SensorType != 0x01 || f.SensorEventReadingType != 0x01 || f.SensorEntityID != 0x03 ||
			int(f.SensorEntityInstance) != c.Socket+1 || f.SensorUnit.BaseUnit != 0x01 || f.UNC_Raw != platform.CPUWarningC ||
			f.UCR_Raw != platform.CPUCriticalC || f.UNR_Raw != platform.CPUFatalC || f.ConvertReading(46) != 46 {
			t.Errorf("processor sensor %02Xh = %+v", n, f)
		}
		// No events; upper comparisons returned; UNC, UC, UNR readable,
		// none settable.
		if got, want := rec[14:20], []byte{0x00, 0x00, 0x00, 0x70, 0x38, 0x00}; !bytes.Equal(got, want) {
			t.Errorf("%s masks = % x, want % x", f.IDStringBytes, got, want)
		}
		return
	}
	fan := snap.Hardware.Fans[n-0xF8]
	if string(f.IDStringBytes) != fan.ID || f.SensorType != 0x04 || f.SensorEntityID != 0x1D || int(f.SensorEntityInstance) != fan.Index+1 ||
		f.SensorUnit.BaseUnit != 18 || f.ConvertReading(50) != 5000 || f.LNC_Raw != uint8(fan.LowerCautionRPM/100) || f.LCR_Raw != uint8(fan.LowerCriticalRPM/100) {
		t.Errorf("fan sensor %02Xh = %+v", n, f)
	}
	if got, want := rec[14:20], []byte{0x00, 0x30, 0x00, 0x00, 0x03, 0x00}; !bytes.Equal(got, want) {
		t.Errorf("%s masks = % x, want % x", f.IDStringBytes, got, want)
	}
}

// checkPartLocator holds a processor (60h + socket) or NIC (68h + index)
// FRU locator to fru_hw.go's numbering.
func checkPartLocator(t *testing.T, snap *platform.Snapshot, l *types.SDRFRUDeviceLocator) {
	t.Helper()
	id := int(l.FRUDeviceID_SlaveAddress)
	name, entity, instance := "", uint8(0x03), 0
	switch {
	case id < 0x68:
		name, instance = snap.Hardware.Processors[id-0x60].ID, id-0x60+1
	default:
		name, entity, instance = "NIC "+snap.Hardware.NICs[id-0x68].ID, 0x0B, id-0x68+1
	}
	if string(l.DeviceIDBytes) != name || !l.IsLogicalFRUDevice || l.DeviceType != 0x10 || uint8(l.FRUEntityID) != entity ||
		int(l.FRUEntityInstance) != instance || l.DeviceAccessAddress != 0x20 {
		t.Errorf("part locator %02Xh = %+v, want %s entity %d.%d", id, l, name, entity, instance)
	}
}

func TestRepositoryFollowsInventory(t *testing.T) {
	p := newPlatform(t)
	m := testMachine(t, p)
	before := m.repository()
	if again := m.repository(); again != before {
		t.Error("repository rebuilt although the snapshot did not change")
	}

	insert64(t, p, "CPU0_DIMM_A2")
	after := m.repository()
	if len(after.records) != len(before.records)+1 {
		t.Fatalf("records after insert = %d, want %d", len(after.records), len(before.records)+1)
	}
	if _, ok := after.record(recordLocator0 + 1); !ok {
		t.Error("no FRU locator for CPU0_DIMM_A2 after insert")
	}
	if after.fingerprint == before.fingerprint {
		t.Error("fingerprint unchanged after insert")
	}
	if !after.changedAt().After(before.changedAt()) {
		t.Errorf("timestamp %v not after %v", after.changedAt(), before.changedAt())
	}

	if _, err := p.Remove("CPU0_DIMM_A2"); err != nil {
		t.Fatal(err)
	}
	removed := m.repository()
	if removed.fingerprint != before.fingerprint {
		t.Error("fingerprint differs although the same slots are populated again")
	}
	if !removed.changedAt().After(after.changedAt()) {
		t.Error("timestamp did not move on removal")
	}
}

// The repository timestamps come from the persisted inventory, never from
// when the process started.
func TestRepositoryTimestampSurvivesRestart(t *testing.T) {
	store := platform.NewFileInventory(t.TempDir() + "/inventory.json")
	first := newPlatformWith(t, platform.Options{Clock: newClock(), Store: store})
	info1, cc, _ := handleGetSDRRepoInfo(testMachine(t, first))(t.Context(), nil, nil)

	later := newClock()
	later.now = later.now.AddDate(1, 0, 0)
	second := newPlatformWith(t, platform.Options{Clock: later, Store: store})
	info2, cc2, _ := handleGetSDRRepoInfo(testMachine(t, second))(t.Context(), nil, nil)
	if cc != types.CodeOK || cc2 != types.CodeOK {
		t.Fatalf("cc = %v, %v", cc, cc2)
	}
	if string(info1) != string(info2) {
		t.Errorf("repository info changed across restart:\n% x\n% x", info1, info2)
	}

	insert64(t, second, "CPU1_DIMM_H2")
	info3, _, _ := handleGetSDRRepoInfo(testMachine(t, second))(t.Context(), nil, nil)
	if le32(info3[5:9]) == le32(info2[5:9]) {
		t.Error("most recent addition unchanged after insert")
	}
	if got, want := int(info3[1])|int(info3[2])<<8, int(info2[1])|int(info2[2])<<8+1; got != want {
		t.Errorf("record count %d, want %d", got, want)
	}
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
