package ipmi

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"
)

type call struct {
	req  []byte
	cc   types.CompletionCode
	resp []byte // nil: not checked
}

func check(t *testing.T, name string, h handlers.HandlerFunc, calls []call) {
	t.Helper()
	for _, c := range calls {
		resp, cc, err := h(context.Background(), nil, c.req)
		if err != nil {
			t.Errorf("%s(% x): err %v", name, c.req, err)
		}
		if cc != c.cc {
			t.Errorf("%s(% x): cc %#02x, want %#02x", name, c.req, uint8(cc), uint8(c.cc))
			continue
		}
		if c.resp != nil && !bytes.Equal(resp, c.resp) {
			t.Errorf("%s(% x) = % x, want % x", name, c.req, resp, c.resp)
		}
	}
}

func TestSensorCommands(t *testing.T) {
	p := newPlatform(t)
	m := testMachine(t, p)
	// Sensor 1 is CPU0_DIMM_A1 (populated), 2 is CPU0_DIMM_A2 (empty).
	check(t, "GetSensorReading", handleGetSensorReading(m), []call{
		{[]byte{1}, types.CodeOK, []byte{0x00, 0xC0, 0x40, 0x80}},
		{[]byte{2}, types.CodeOK, []byte{0x00, 0xC0, 0x00, 0x80}},
		// Slot/Connector sensors: Device Installed when populated.
		{[]byte{0x60}, types.CodeOK, []byte{0x00, 0xC0, 0x04, 0x80}},
		{[]byte{0x61}, types.CodeOK, []byte{0x00, 0xC0, 0x00, 0x80}},
		{[]byte{0x80}, types.CodeRequestedDataNotPresent, nil},
		{[]byte{0}, types.CodeRequestedDataNotPresent, nil},
		{[]byte{33}, types.CodeRequestedDataNotPresent, nil},
		{[]byte{0xFF}, types.CodeRequestedDataNotPresent, nil},
		{nil, types.CodeRequestDataLengthInvalid, nil},
		{[]byte{1, 2}, types.CodeRequestDataLengthInvalid, nil},
	})
	check(t, "GetSensorEventStatus", handleGetSensorEventStatus(m), []call{
		{[]byte{1}, types.CodeOK, []byte{0xC0, 0x40, 0x00, 0x00, 0x00}},
		{[]byte{2}, types.CodeOK, []byte{0xC0, 0x00, 0x00, 0x00, 0x00}},
		{[]byte{0xE0}, types.CodeRequestedDataNotPresent, nil},
		{nil, types.CodeRequestDataLengthInvalid, nil},
	})
	check(t, "GetSensorType", handleGetSensorType(m), []call{
		{[]byte{32}, types.CodeOK, []byte{0x0C, 0x6F}},
		{[]byte{0x7F}, types.CodeOK, []byte{0x21, 0x6F}},
		{[]byte{33}, types.CodeRequestedDataNotPresent, nil},
		{nil, types.CodeRequestDataLengthInvalid, nil},
	})

	// Readings are live: a module inserted now is present on the next read.
	insert64(t, p, "CPU0_DIMM_A2")
	check(t, "GetSensorReading", handleGetSensorReading(m), []call{{[]byte{2}, types.CodeOK, []byte{0x00, 0xC0, 0x40, 0x80}}})
}

func TestGetSDR(t *testing.T) {
	p := newPlatform(t)
	m := testMachine(t, p)
	get := handleGetSDR(m)
	mc, _ := m.repository().record(recordMC)
	sensor1, _ := m.repository().record(recordSensor0)

	check(t, "GetSDR", get, []call{
		// Whole first record, no reservation needed at offset 0.
		{[]byte{0, 0, 0, 0, 0, 0xFF}, types.CodeOK, append([]byte{0x00, 0x01}, mc...)},
		{[]byte{0, 0, 0x01, 0x00, 0, 5}, types.CodeOK, append([]byte{0x00, 0x01}, mc[:5]...)},
		// Partial read without a reservation.
		{[]byte{0, 0, 0x00, 0x01, 5, 8}, types.CodeReservationCanceled, nil},
		{[]byte{0, 0, 0x99, 0x09, 0, 0xFF}, types.CodeRequestedDataNotPresent, nil},
		{[]byte{0, 0, 0, 0}, types.CodeRequestDataLengthInvalid, nil},
		{[]byte{0, 0, 0, 0, 0, 0, 0}, types.CodeRequestDataLengthInvalid, nil},
	})

	resv, cc, _ := handleReserveSDR(m)(context.Background(), nil, nil)
	if cc != types.CodeOK || len(resv) != 2 {
		t.Fatalf("reserve = % x, %v", resv, cc)
	}
	partial := func(offset, n byte) []byte { return []byte{resv[0], resv[1], 0x00, 0x01, offset, n} }
	check(t, "GetSDR", get, []call{
		{partial(5, 8), types.CodeOK, append([]byte{0x01, 0x01}, sensor1[5:13]...)},
		{partial(byte(len(sensor1)), 1), types.CodeParameterOutOfRange, nil},
		{partial(40, 0xFF), types.CodeOK, append([]byte{0x01, 0x01}, sensor1[40:]...)},
	})

	// A change to the record set cancels the reservation.
	insert64(t, p, "CPU1_DIMM_A2")
	check(t, "GetSDR", get, []call{{partial(5, 8), types.CodeReservationCanceled, nil}})

	// A power change leaves the records alone, and the reservation too.
	resv, _, _ = handleReserveSDR(m)(context.Background(), nil, nil)
	if err := p.SetPower(false); err != nil {
		t.Fatal(err)
	}
	check(t, "GetSDR", get, []call{{partial(5, 8), types.CodeOK, nil}})
}

func TestRepoAndDeviceSDRInfo(t *testing.T) {
	p := newPlatform(t)
	m := testMachine(t, p)
	info, cc, _ := handleGetSDRRepoInfo(m)(context.Background(), nil, nil)
	if cc != types.CodeOK || len(info) != 14 {
		t.Fatalf("repo info = % x, %v", info, cc)
	}
	r := m.repository()
	if info[0] != 0x51 || int(info[1])|int(info[2])<<8 != len(r.records) ||
		int64(le32(info[5:9])) != p.Snapshot().ChangedAt.Unix() || le32(info[9:13]) != le32(info[5:9]) {
		t.Errorf("repo info = % x", info)
	}
	check(t, "GetSDRRepoInfo", handleGetSDRRepoInfo(m), []call{{[]byte{1}, types.CodeRequestDataLengthInvalid, nil}})

	stamp := info[5:9]
	// 64 slot sensors, 2 processor temperatures, 6 fans.
	check(t, "GetDeviceSDRInfo", handleGetDeviceSDRInfo(m), []call{
		{nil, types.CodeOK, append([]byte{72, 0x81}, stamp...)},
		{[]byte{0}, types.CodeOK, append([]byte{72, 0x81}, stamp...)},
		{[]byte{1}, types.CodeOK, append([]byte{byte(len(r.records)), 0x81}, stamp...)},
		{[]byte{1, 1}, types.CodeRequestDataLengthInvalid, nil},
	})
}

func TestGetDeviceID(t *testing.T) {
	m := testMachine(t, newPlatform(t))
	resp, cc, _ := handleGetDeviceID(m)(context.Background(), nil, nil)
	if cc != types.CodeOK {
		t.Fatal(cc)
	}
	want := []byte{0x20, 0x80, 0x01, 0x00, 0x02, 0x9F, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(resp, want) {
		t.Errorf("Get Device ID = % x, want % x", resp, want)
	}
	check(t, "GetDeviceID", handleGetDeviceID(m), []call{{[]byte{0}, types.CodeRequestDataLengthInvalid, nil}})
}

func TestFirmwareRevision(t *testing.T) {
	for in, want := range map[string][3]uint8{
		"1.0.0":      {1, 0x00, 0},
		"2.14.3-rc1": {2, 0x14, 3},
		"7.3":        {7, 0x03, 0},
		"300.250.9":  {127, 0x99, 9},
		"v1":         {0, 0, 0},
		"":           {0, 0, 0},
	} {
		a, b, c := firmwareRevision(in)
		if [3]uint8{a, b, c} != want {
			t.Errorf("firmwareRevision(%q) = %d %#02x %d, want %d %#02x %d", in, a, b, c, want[0], want[1], want[2])
		}
	}
}

func TestGUIDs(t *testing.T) {
	snap := newPlatform(t).Snapshot()
	sys, dev := systemGUID(snap), deviceGUID(snap)
	if sys == dev {
		t.Error("system and device GUID are equal")
	}
	if sys != systemGUID(newPlatform(t).Snapshot()) {
		t.Error("system GUID not stable for the same serial number")
	}
	// Wire order is reversed RFC 4122: version nibble in byte 9, variant in byte 7.
	if sys[9]>>4 != 5 || sys[7]&0xC0 != 0x80 {
		t.Errorf("GUID % x is not an RFC 4122 v5 UUID in IPMI byte order", sys)
	}
}

func TestRequirePrivilege(t *testing.T) {
	ok := func(context.Context, *handlers.HandlerContext, []byte) ([]byte, types.CompletionCode, error) {
		return nil, types.CodeOK, nil
	}
	h := requirePrivilege(bmc.PrivilegeLevelOperator, ok)
	for level, want := range map[bmc.PrivilegeLevel]types.CompletionCode{
		bmc.PrivilegeLevelUser:          types.CodeInsufficientPrivilege,
		bmc.PrivilegeLevelOperator:      types.CodeOK,
		bmc.PrivilegeLevelAdministrator: types.CodeOK,
	} {
		_, cc, _ := h(context.Background(), &handlers.HandlerContext{Session: &bmc.Session{PrivilegeLevel: level}}, nil)
		if cc != want {
			t.Errorf("privilege %d: cc %#02x, want %#02x", level, uint8(cc), uint8(want))
		}
	}
}

func TestRecoverPanics(t *testing.T) {
	var logs strings.Builder
	h := recoverPanics(textLogger(&logs))(handlers.HandlerFunc(func(context.Context, *handlers.HandlerContext, []byte) ([]byte, types.CompletionCode, error) {
		panic("boom")
	}))
	_, cc, err := h.Handle(context.Background(), nil, []byte{1})
	if cc != types.CodeUnspecifiedError || err != nil {
		t.Errorf("cc %v err %v, want FFh and no error", cc, err)
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Errorf("panic not logged: %s", logs.String())
	}
}
