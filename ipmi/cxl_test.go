package ipmi

import (
	"encoding/hex"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/cxl"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// On the cxl profile (32 DIMM slots) the three CXL slots take ordinals
// 32..34: Memory sensors 21h..23h, Slot/Connector sensors 80h..82h.
const (
	cxl1Mem  = 0x21
	cxl2Mem  = 0x22
	cxl3Mem  = 0x23
	cxl1Slot = 0x80
	cxl2Slot = 0x81
	cxl3Slot = 0x82
)

func TestCXLEmissions(t *testing.T) {
	slot := func(off uint8, deassert, state bool) slotEmission {
		return slotEmission{slot: "CXL1", emission: emission{cxlSlotSensorKind, off, deassert}, state: state}
	}
	mem := func(off uint8, deassert, state bool) slotEmission {
		return slotEmission{slot: "CXL1", emission: emission{cxlMemSensorKind, off, deassert}, state: state}
	}
	ue := mem(memUncorrectableECC, false, false)
	ue.oem, ue.data2 = true, oemDataLost
	gone := []slotEmission{mem(memPresence, true, true), slot(slotPowerOff, false, true), slot(slotDeviceInstalled, true, true)}
	for _, tc := range []struct {
		ev   events.CXLDeviceChanged
		want []slotEmission
	}{
		{events.CXLDeviceChanged{Op: "inserted"}, []slotEmission{slot(slotDeviceInstalled, false, true)}},
		{events.CXLDeviceChanged{Op: "enabled", Region: "region0", Node: 2, Bytes: 1 << 30},
			[]slotEmission{slot(slotPowerOff, true, true), mem(memPresence, false, true)}},
		{events.CXLDeviceChanged{Op: "refused", Reason: "no window"}, []slotEmission{slot(slotPowerOff, true, true), slot(slotFault, false, false)}},
		{events.CXLDeviceChanged{Op: "removal-refused", Reason: "busy"}, []slotEmission{slot(slotRemovalRequest, false, false)}},
		{events.CXLDeviceChanged{Op: "disabled"}, []slotEmission{mem(memPresence, true, true), slot(slotPowerOff, false, true)}},
		{events.CXLDeviceChanged{Op: "pulled"}, gone},
		{events.CXLDeviceChanged{Op: "surprise"}, gone},
		{events.CXLDeviceChanged{Op: "surprise", Poisoned: 3}, append([]slotEmission{ue, slot(slotFault, false, false)}, gone...)},
		{events.CXLDeviceChanged{Op: "surprise", Leaked: 1 << 30}, append([]slotEmission{slot(slotFault, false, false)}, gone...)},
		{events.CXLDeviceChanged{Op: "something new"}, nil},
	} {
		tc.ev.Slot = "CXL1"
		if got := emissions(tc.ev); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%+v:\n got %+v\nwant %+v", tc.ev, got, tc.want)
		}
	}
	if got := emissions(events.IOMMUFault{Slot: "CXL1", Addr: 0x1000, Write: true}); len(got) != 0 {
		t.Errorf("IOMMU fault logged %+v", got)
	}
}

// cxlPlatform boots the cxl profile on a manual clock: the OS is up at
// once and the tests' steps run when they say.
func cxlPlatform(t *testing.T) *platform.Platform {
	t.Helper()
	prof, err := profile.Builtin("cxl")
	if err != nil {
		t.Fatal(err)
	}
	p, err := platform.New(prof, platform.Options{Clock: clock.NewManual(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)), FaultSeed: 7})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The CXL slots' records follow the DIMMs' without moving them, with the
// slot's name, and the rest of the repository is what it would be
// without CXL.
func TestCXLSensorRecords(t *testing.T) {
	p := cxlPlatform(t)
	m := testMachine(t, p)
	repo := m.repository()
	for i, slot := range []string{"CXL1", "CXL2", "CXL3"} {
		data, ok := repo.record(recordSensor0 + 32 + uint16(i))
		if !ok {
			t.Fatalf("no Memory record for %s", slot)
		}
		c := parseRecord(t, data).Compact
		if string(c.IDStringBytes) != slot+" Mem" || c.SensorNumber != types.SensorNumber(cxl1Mem+i) || c.SensorType != sensorTypeMemory ||
			c.SensorEntityID != entityMemoryDevice || c.SensorEntityInstance != types.EntityInstance(33+i) {
			t.Errorf("%s Memory record %+v", slot, c)
		}
		// Assertions and deassertions: UE, presence; reading: presence.
		if a, d, r := data[14:16], data[16:18], data[18:20]; fmt.Sprintf("% x|% x|% x", a, d, r) != "42 00|42 00|40 00" {
			t.Errorf("%s Memory masks % x / % x / % x", slot, a, d, r)
		}
		data, ok = repo.record(recordSlot0 + 32 + uint16(i))
		if !ok {
			t.Fatalf("no Slot/Connector record for %s", slot)
		}
		c = parseRecord(t, data).Compact
		// Add-in card instances 1 and 2 are the two network adapters'.
		if string(c.IDStringBytes) != slot+" Slot" || c.SensorNumber != types.SensorNumber(cxl1Slot+i) || c.SensorType != sensorTypeSlotConnector ||
			c.SensorEntityID != entityAddInCard || c.SensorEntityInstance != types.EntityInstance(3+i) {
			t.Errorf("%s Slot/Connector record %+v", slot, c)
		}
		// Fault, installed, power off, removal request; reading without
		// the request.
		if a, d, r := data[14:16], data[16:18], data[18:20]; fmt.Sprintf("% x|% x|% x", a, d, r) != "65 00|65 00|25 00" {
			t.Errorf("%s Slot/Connector masks % x / % x / % x", slot, a, d, r)
		}
	}
	bare := *p.Snapshot()
	bare.CXL = nil
	without := buildRepository(&bare)
	var rest []sdrRecord
	for _, rec := range repo.records {
		if o := rec.id & 0xFF; (rec.id&0xFF00 == recordSensor0 || rec.id&0xFF00 == recordSlot0) && o >= 32 {
			continue
		}
		rest = append(rest, rec)
	}
	if !slices.EqualFunc(rest, without.records, func(a, b sdrRecord) bool { return a.id == b.id && string(a.data) == string(b.data) }) {
		t.Errorf("the CXL slots moved other records: %d records without them, %d with", len(without.records), len(rest))
	}
	if len(repo.records) != len(without.records)+6 {
		t.Errorf("%d records, want %d + 6", len(repo.records), len(without.records))
	}
	// Get Device SDR Info counts the sensors: two per DIMM slot, the
	// board's, and two per CXL slot.
	resp, cc, err := handleGetDeviceSDRInfo(m)(t.Context(), nil, nil)
	if want := 2*32 + len(boardSensorRecords(repo.snap)) + 6; err != nil || cc != types.CodeOK || int(resp[0]) != want {
		t.Errorf("Get Device SDR Info % x (cc %#x), want %d sensors", resp, uint8(cc), want)
	}
	check(t, "GetSensorType", handleGetSensorType(m), []call{
		{[]byte{cxl1Slot}, types.CodeOK, []byte{sensorTypeSlotConnector, readingTypeSensorSpecial}},
		{[]byte{cxl3Mem}, types.CodeOK, []byte{sensorTypeMemory, readingTypeSensorSpecial}},
		{[]byte{0x24}, types.CodeRequestedDataNotPresent, nil},
		{[]byte{0x83}, types.CodeRequestedDataNotPresent, nil},
	})
	// A DIMM profile has no CXL sensor there.
	check(t, "GetSensorType", handleGetSensorType(testMachine(t, newPlatform(t))), []call{
		{[]byte{cxl1Slot}, types.CodeRequestedDataNotPresent, nil},
		{[]byte{cxl1Mem}, types.CodeRequestedDataNotPresent, nil},
	})
}

// reading is Get Sensor Reading's state bytes for a discrete sensor.
func reading(st uint16) []byte {
	return []byte{0x00, 0xC0, byte(st), 0x80 | byte(st>>8)}
}

// Readings follow the slots through insert, attention, the refusals and
// both removals.
func TestCXLReadingsFollowPlatform(t *testing.T) {
	p := cxlPlatform(t)
	m := testMachine(t, p)
	const (
		installed = 1 << slotDeviceInstalled
		off       = 1 << slotPowerOff
		fault     = 1 << slotFault
		present   = 1 << memPresence
	)
	expect := func(step string, want map[uint8]uint16) {
		t.Helper()
		for _, n := range []uint8{cxl1Slot, cxl1Mem, cxl2Slot, cxl2Mem, cxl3Slot, cxl3Mem} {
			st, ok := want[n]
			if !ok {
				st = map[bool]uint16{true: off}[n >= 0x80] // empty and unpowered
			}
			resp, cc, err := handleGetSensorReading(m)(t.Context(), nil, []byte{n})
			if err != nil || cc != types.CodeOK || string(resp) != string(reading(st)) {
				t.Errorf("%s: sensor %02Xh reads % x (cc %#x), want % x", step, n, resp, uint8(cc), reading(st))
			}
			resp, _, _ = handleGetSensorEventStatus(m)(t.Context(), nil, []byte{n})
			if len(resp) != 5 || resp[1] != byte(st) {
				t.Errorf("%s: sensor %02Xh event status % x, want states %02x", step, n, resp, st)
			}
		}
	}
	expect("start", nil)
	mustDo(t, p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 16 << 30}))
	expect("inserted", map[uint8]uint16{cxl1Slot: installed | off})
	_, err := p.CXLAttention("CXL1")
	mustDo(t, err)
	expect("enabled", map[uint8]uint16{cxl1Slot: installed, cxl1Mem: present})

	mustDo(t, p.CXLInsert("CXL2", cxl.DeviceSpec{Capacity: 16 << 30}))
	mustDo(t, p.CXLInsert("CXL3", cxl.DeviceSpec{Capacity: 16 << 30}))
	if _, err := p.CXLAttention("CXL2"); err == nil {
		t.Fatal("CXL2 has no window, yet its card came up")
	}
	if _, err := p.CXLAttention("CXL3"); err == nil {
		t.Fatal("CXL3 has no bridge window, yet its card came up")
	}
	refused := map[uint8]uint16{cxl1Slot: installed, cxl1Mem: present, cxl2Slot: installed | fault, cxl3Slot: installed | fault}
	expect("refused", refused)
	// Pressing the button again powers a refused card off: no fault.
	_, err = p.CXLAttention("CXL3")
	mustDo(t, err)
	refused[cxl3Slot] = installed | off
	expect("refused card off", refused)

	// A surprise removal of memory the kernel holds leaks it: a fault
	// until the next boot, with no card seated.
	_, err = p.CXLPull("CXL1")
	mustDo(t, err)
	mustDo(t, p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 16 << 30, Online: "online_kernel"}))
	_, err = p.CXLAttention("CXL1")
	mustDo(t, err)
	mustDo(t, p.CreateCpuset("cxl", "0-3", "2", true))
	_, err = p.RunTask("kworker", "cxl", 16, true)
	mustDo(t, err)
	res, err := p.CXLPull("CXL1")
	if err != nil || res.Leaked == 0 {
		t.Fatalf("surprise removal with kernel pages: %+v, %v", res, err)
	}
	refused[cxl1Slot], refused[cxl1Mem] = off|fault, 0
	expect("leaked", refused)
}

// cxlBMC serves the cxl profile on 127.0.73.x (the listeners' range of
// these tests) for ipmitool.
func cxlBMC(t *testing.T, p *platform.Platform) *rasBMC {
	t.Helper()
	tool(t, "/usr/bin/ipmitool")
	return &rasBMC{liveBMC: startBMCWith(t, p, Config{Addr: "127.0.73.2:0"})}
}

// The SEL through ipmitool: insert, attention, a refusal, a refused and an
// orderly removal, and a surprise removal that poisons a task's pages,
// each with its bytes and ipmitool's text.
func TestCXLSELIpmitool(t *testing.T) {
	p := cxlPlatform(t)
	r := cxlBMC(t, p)
	const (
		slot1 = "Slot / Connector CXL1 Slot"
		mem1  = "Memory CXL1 Mem"
		slot2 = "Slot / Connector CXL2 Slot"
	)
	spec := cxl.DeviceSpec{Capacity: 16 << 30, Online: "online_kernel"}
	mustDo(t, p.CXLInsert("CXL1", spec))
	_, err := p.CXLAttention("CXL1")
	mustDo(t, err)
	// Slot data 2 = 09h PCI Express, data 3 = physical slot 1; Memory
	// data 3 = ordinal 32.
	r.expect(t, 3, nil,
		logged{"2000042180" + "6ff20901", slot1 + " | Device Installed | Asserted"},
		logged{"2000042180" + "eff50901", slot1 + " | Slot Power is Off | Deasserted"},
		logged{"2000040c21" + "6f36ff20", mem1 + " | Presence Detected | Asserted"})

	mustDo(t, p.CXLInsert("CXL2", spec))
	if _, err := p.CXLAttention("CXL2"); err == nil {
		t.Fatal("CXL2 came up without a window")
	}
	r.expect(t, 3, nil,
		logged{"2000042181" + "6ff20902", slot2 + " | Device Installed | Asserted"},
		logged{"2000042181" + "eff50902", slot2 + " | Slot Power is Off | Deasserted"},
		logged{"2000042181" + "6ff00902", slot2 + " | Fault Status | Asserted"})

	// Kernel memory on the expander's node: the removal is refused and
	// only the request is logged; freed, the removal goes through.
	mustDo(t, p.CreateCpuset("cxl", "0-3", "2", true))
	k, err := p.RunTask("kworker", "cxl", 16, true)
	mustDo(t, err)
	if _, err := p.CXLAttention("CXL1"); err == nil {
		t.Fatal("removal with kernel pages on the node went through")
	}
	r.expect(t, 1, nil, logged{"2000042180" + "6ff60901", slot1 + " | Device Removal Request | Asserted"})
	mustDo(t, p.KillTask(k.PID))
	_, err = p.CXLAttention("CXL1")
	mustDo(t, err)
	r.expect(t, 2, nil,
		logged{"2000040c21" + "ef36ff20", mem1 + " | Presence Detected | Deasserted"},
		logged{"2000042180" + "6ff50901", slot1 + " | Slot Power is Off | Asserted"})
	_, err = p.CXLPull("CXL1")
	mustDo(t, err)
	r.expect(t, 1, nil, logged{"2000042180" + "eff20901", slot1 + " | Device Installed | Deasserted"})

	// A task's pages on the node, then the card leaves a powered slot:
	// the UE says data lost (OEM 02h), then the slot's fault.
	mustDo(t, p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 16 << 30}))
	_, err = p.CXLAttention("CXL1")
	mustDo(t, err)
	r.expect(t, 3, nil,
		logged{"2000042180" + "6ff20901", slot1 + " | Device Installed | Asserted"},
		logged{"2000042180" + "eff50901", slot1 + " | Slot Power is Off | Deasserted"},
		logged{"2000040c21" + "6f36ff20", mem1 + " | Presence Detected | Asserted"})
	_, err = p.RunTask("app", "cxl", 8, false)
	mustDo(t, err)
	res, err := p.CXLPull("CXL1")
	if err != nil || res.Poison == 0 {
		t.Fatalf("surprise removal with a task's pages: %+v, %v", res, err)
	}
	r.expect(t, 5, nil,
		logged{"2000040c21" + "6fb10220", mem1 + " | Uncorrectable ECC | Asserted"},
		logged{"2000042180" + "6ff00901", slot1 + " | Fault Status | Asserted"},
		logged{"2000040c21" + "ef36ff20", mem1 + " | Presence Detected | Deasserted"},
		logged{"2000042180" + "6ff50901", slot1 + " | Slot Power is Off | Asserted"},
		logged{"2000042180" + "eff20901", slot1 + " | Device Installed | Deasserted"})

	// A blocked DMA is the OS's business: no record.
	if err := p.CXLDMAAccess("CXL2", 0x1000, 64, true); err == nil {
		t.Fatal("a DMA to an unmapped IOVA was not blocked")
	}
	mustDo(t, p.CXLInsert("CXL3", spec))
	r.expect(t, 1, nil, logged{"2000042182" + "6ff20903", "Slot / Connector CXL3 Slot | Device Installed | Asserted"})

	rows := map[string][]string{}
	for _, row := range table(r.mustIpmitool(t, "sdr", "elist")) {
		rows[row[0]] = row
	}
	for name, want := range map[string]string{
		"CXL1 Slot": "[CXL1 Slot 80h ok 11.3 Slot Power is Off]",
		"CXL1 Mem":  "[CXL1 Mem 21h ok 32.33 ]",
		"CXL2 Slot": "[CXL2 Slot 81h ok 11.4 Fault Status, Device Installed]",
		"CXL3 Slot": "[CXL3 Slot 82h ok 11.5 Device Installed, Slot Power is Off]",
	} {
		if got := fmt.Sprint(rows[name]); got != want {
			t.Errorf("sdr elist %s = %s, want %s", name, got, want)
		}
	}
}

// A card the BMC finds enabled at start is not news; one that a new boot
// brought up without an event (seated, never switched on, then the host
// power-cycled) is logged once the boot is in.
func TestCXLStatesSeededAndResynced(t *testing.T) {
	p := cxlPlatform(t)
	mustDo(t, p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 16 << 30}))
	_, err := p.CXLAttention("CXL1")
	mustDo(t, err)
	mustDo(t, p.CXLInsert("CXL3", cxl.DeviceSpec{Capacity: 16 << 30}))
	m := testMachine(t, p)
	m.states.seed(p.Snapshot())
	if got := m.states.cxlBootEmissions(p.Snapshot()); len(got) != 0 {
		t.Fatalf("seeded states differ from the snapshot: %+v", got)
	}
	// CXL3 as a boot would find it: powered, its card refused.
	snap := *p.Snapshot()
	st := *snap.CXL
	st.Slots = slices.Clone(st.Slots)
	st.Slots[2].Power, st.Slots[2].State = true, cxl.StateFailed
	// CXL1 as a boot with the card gone would find it.
	st.Slots[0] = cxl.SlotStatus{Slot: "CXL1", Number: 1, State: cxl.StateEmpty}
	snap.CXL = &st
	want := []slotEmission{
		{slot: "CXL1", emission: emission{cxlMemSensorKind, memPresence, true}, state: true},
		{slot: "CXL1", emission: emission{cxlSlotSensorKind, slotPowerOff, false}, state: true},
		{slot: "CXL1", emission: emission{cxlSlotSensorKind, slotDeviceInstalled, true}, state: true},
		{slot: "CXL3", emission: emission{cxlSlotSensorKind, slotPowerOff, true}, state: true},
		{slot: "CXL3", emission: emission{cxlSlotSensorKind, slotFault, false}},
	}
	if got := m.states.cxlBootEmissions(&snap); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("boot emissions\n got %+v\nwant %+v", got, want)
	}
}

// cxlLogged are the SEL's records on the CXL sensors, once there are at
// least n (the pump logs asynchronously; the deadline only bounds a hang).
func cxlLogged(t *testing.T, b *liveBMC, n int) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var out []string
		for _, e := range b.srv.SEL().Entries() {
			if n := e[11]; n >= cxl1Mem && n <= cxl3Mem || n >= cxl1Slot && n <= cxl3Slot {
				out = append(out, hex.EncodeToString(e[7:16]))
			}
		}
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A card seated but never switched on comes up at the next POST without
// an event of its own: the BMC logs what the boot changed once the boot
// is in, and nothing at power-off.
func TestCXLPowerCycleLogsWhatTheBootChanged(t *testing.T) {
	clk := clock.NewManual(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	prof, err := profile.Builtin("cxl")
	if err != nil {
		t.Fatal(err)
	}
	p, err := platform.New(prof, platform.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	b := startBMCWith(t, p, Config{Addr: "127.0.73.2:0"})
	mustDo(t, p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 16 << 30}))
	installed := "20000421806ff20901"
	if got := cxlLogged(t, b, 1); fmt.Sprint(got) != fmt.Sprint([]string{installed}) {
		t.Fatalf("after insert: %v", got)
	}
	mustDo(t, p.Reset(platform.ResetForceOff))
	// Records follow the events' order: once CXL3's insert is logged,
	// the power-off before it has been handled, and logged nothing.
	mustDo(t, p.CXLInsert("CXL3", cxl.DeviceSpec{Capacity: 16 << 30}))
	installed3 := "20000421826ff20903"
	if got := cxlLogged(t, b, 2); fmt.Sprint(got) != fmt.Sprint([]string{installed, installed3}) {
		t.Fatalf("after the power-off and an insert: %v", got)
	}
	mustDo(t, p.Reset(platform.ResetOn))
	for range 4000 {
		if p.Snapshot().Host.OSRunning {
			break
		}
		clk.Advance(10 * time.Millisecond)
	}
	if !p.Snapshot().Host.OSRunning {
		t.Fatal("the host did not boot")
	}
	// CXL1 powered and mapped; CXL3 powered and its card refused.
	want := []string{installed, installed3, "2000042180eff50901", "2000040c216f36ff20", "2000042182eff50903", "20000421826ff00903"}
	if got := cxlLogged(t, b, len(want)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the power cycle:\n got %v\nwant %v", got, want)
	}
	// The orderly removal that follows is logged in full.
	_, err = p.CXLAttention("CXL1")
	mustDo(t, err)
	want = append(want, "2000040c21ef36ff20", "20000421806ff50901")
	if got := cxlLogged(t, b, len(want)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the removal:\n got %v\nwant %v", got, want)
	}
}
