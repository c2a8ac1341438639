package ipmi

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/sel"
)

// fuzzHandler feeds arbitrary request bodies to one handler. Beyond not
// panicking, an error answer must carry no data and a handler must never
// report a Go error (that is reserved for internal faults).
func fuzzHandler(f *testing.F, build func(*machine) handlers.HandlerFunc, check func(*testing.T, *machine, []byte, []byte), seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	p := newPlatform(f)
	insert64(f, p, "CPU0_DIMM_A2")
	m := testMachine(f, p)
	h := build(m)
	f.Fuzz(func(t *testing.T, req []byte) {
		resp, cc, err := h(context.Background(), nil, req)
		if err != nil {
			t.Fatalf("% x: err %v", req, err)
		}
		if cc != types.CodeOK {
			if resp != nil {
				t.Fatalf("% x: cc %#02x with data % x", req, uint8(cc), resp)
			}
			return
		}
		if check != nil {
			check(t, m, req, resp)
		}
	})
}

func checkSensorReading(t *testing.T, m *machine, req, resp []byte) {
	s, ok := slotForSensor(m.p.Snapshot(), req[0])
	if ok && (s.kind == tempSensorKind || isBoardKind(s.kind)) {
		if len(resp) != 3 {
			t.Fatalf("temperature sensor %d: % x", req[0], resp)
		}
		return
	}
	if !ok || len(resp) != 4 || resp[2] != byte(s.states()) {
		t.Fatalf("sensor %d: % x (slot known %v)", req[0], resp, ok)
	}
}

func FuzzGetSensorReading(f *testing.F) {
	fuzzHandler(f, handleGetSensorReading, checkSensorReading, []byte{1}, []byte{2}, []byte{0}, []byte{0xFF}, nil, []byte{1, 0})
}

func FuzzGetSensorEventStatus(f *testing.F) {
	fuzzHandler(f, handleGetSensorEventStatus, nil, []byte{1}, []byte{33}, nil, []byte{1, 2, 3})
}

// FuzzGetSensorType checks every answer against the sensor's own SDR
// record (IPMI v2.0 §43: full, compact and event-only records carry the
// sensor number at byte 7, the sensor type at 12 and the event/reading
// type code at 13), so a Memory sensor (0Ch), a slot (21h), a temperature
// (01h) and the RAS sensor are each held to what the SDR says of them.
func FuzzGetSensorType(f *testing.F) {
	fuzzHandler(f, handleGetSensorType, func(t *testing.T, m *machine, req, resp []byte) {
		var want []byte
		for _, rec := range m.repository().records {
			d := rec.data
			if len(d) > 13 && (d[3] == 0x01 || d[3] == 0x02 || d[3] == 0x03) && d[7] == req[0] {
				want = d[12:14]
				break
			}
		}
		if want == nil || !bytes.Equal(resp, want) {
			t.Fatalf("sensor %#02x: % x, its SDR record says % x", req[0], resp, want)
		}
	}, []byte{1}, []byte{32}, []byte{0x61}, []byte{0xBF}, nil)
}

func FuzzGetDeviceSDRInfo(f *testing.F) {
	fuzzHandler(f, handleGetDeviceSDRInfo, func(t *testing.T, _ *machine, req, resp []byte) {
		if len(resp) != 6 {
			t.Fatalf("% x -> % x", req, resp)
		}
	}, nil, []byte{0}, []byte{1}, []byte{0xFF}, []byte{1, 1})
}

// FuzzGetSDR also takes a reservation first, so reads at an offset reach
// the record-slicing code; the reservation ID is then 1.
func FuzzGetSDR(f *testing.F) {
	fuzzHandler(f, func(m *machine) handlers.HandlerFunc {
		m.res.reserve(m.repository().fingerprint)
		return handleGetSDR(m)
	}, func(t *testing.T, m *machine, req, resp []byte) {
		r := m.repository()
		i, ok := r.index(uint16(req[2]) | uint16(req[3])<<8)
		if !ok || len(resp) < 2 || len(resp) > 2+maxSDRRead {
			t.Fatalf("% x -> % x", req, resp)
		}
		rec := r.records[i].data
		if !bytes.Equal(resp[2:], rec[req[4]:int(req[4])+len(resp)-2]) {
			t.Fatalf("% x -> % x, not a slice of % x", req, resp, rec)
		}
	},
		[]byte{0, 0, 0, 0, 0, 0xFF},
		[]byte{1, 0, 0x00, 0x01, 5, 16},
		[]byte{1, 0, 0xFF, 0xFF, 47, 0xFF},
		[]byte{2, 0, 0x00, 0x02, 5, 16},
		[]byte{1, 0, 0x01, 0x00, 0xFF, 1},
		[]byte{0, 0, 0x01},
	)
}

func FuzzNoArgumentCommands(f *testing.F) {
	f.Add(uint8(0), []byte(nil))
	f.Add(uint8(1), []byte{0})
	f.Add(uint8(4), []byte{1, 2, 3})
	p := newPlatform(f)
	m := testMachine(f, p)
	hs := []handlers.HandlerFunc{
		handleGetDeviceID(m), handleGUID(m, systemGUID), handleGUID(m, deviceGUID),
		handleGetSDRRepoInfo(m), handleReserveSDR(m),
	}
	f.Fuzz(func(t *testing.T, which uint8, req []byte) {
		resp, cc, err := hs[int(which)%len(hs)](context.Background(), nil, req)
		if err != nil || (cc == types.CodeOK) != (len(req) == 0) || (cc != types.CodeOK && resp != nil) {
			t.Fatalf("handler %d(% x) = % x, %#02x, %v", int(which)%len(hs), req, resp, uint8(cc), err)
		}
	})
}

// FuzzSELCommands drives every SEL handler and the event receiver with
// arbitrary bodies against one SEL: 0xC7/0xC9/0xCB/0xC5 answers carry no
// data, nothing panics, and the SEL stays within its capacity.
func FuzzSELCommands(f *testing.F) {
	for _, seed := range []struct {
		which uint8
		data  []byte
	}{
		{0, nil}, {1, nil}, {2, nil},
		{3, []byte{0, 0, 0, 0, 0, 0xFF}}, {3, []byte{1, 0, 0xFF, 0xFF, 4, 8}}, {3, []byte{1, 0, 1, 0, 16, 1}},
		{4, make([]byte, 16)}, {4, []byte{0, 0, 0xE0}},
		{5, []byte{1, 0, 0, 0, 0, 0, 1, 2, 3}}, {5, []byte{1, 0, 1, 0, 3, 1, 4, 5}},
		{6, []byte{1, 0, 0xFF, 0xFF}}, {6, []byte{1, 0}},
		{7, []byte{1, 0, 'C', 'L', 'R', 0xAA}}, {7, []byte{1, 0, 'C', 'L', 'R', 0}}, {7, []byte{0, 0, 'X', 'L', 'R', 0xAA}},
		{8, nil}, {9, []byte{1, 2, 3, 4}}, {10, nil}, {11, []byte{0xFF, 0x07}}, {11, []byte{0x00, 0x80}},
		{12, []byte{4, 1, 0x30, 1, 0x57, 0x30, 0x30}}, {12, []byte{0x41, 4, 1, 0x30, 1, 0x57, 0x30, 0x30}}, {12, []byte{4, 1}},
	} {
		f.Add(seed.which, seed.data)
	}
	m := testMachine(f, newPlatform(f))
	s, err := sel.Open(sel.Options{Capacity: 32})
	if err != nil {
		f.Fatal(err)
	}
	m.sel = s
	m.sel.Reserve() // reservation 1, so seeds reach past the check
	hs := []handlers.HandlerFunc{
		handleGetSELInfo(m), handleGetSELAllocInfo(m), handleReserveSEL(m), handleGetSELEntry(m),
		handleAddSELEntry(m), handlePartialAddSELEntry(m), handleDeleteSELEntry(m), handleClearSEL(m),
		handleGetSELTime(m), handleSetSELTime(m), handleGetSELTimeUTCOffset(m), handleSetSELTimeUTCOffset(m),
		handlePlatformEvent(m),
	}
	f.Fuzz(func(t *testing.T, which uint8, req []byte) {
		i := int(which) % len(hs)
		resp, cc, err := hs[i](context.Background(), nil, req)
		if err != nil || (cc != types.CodeOK && resp != nil) {
			t.Fatalf("handler %d(% x) = % x, %#02x, %v", i, req, resp, uint8(cc), err)
		}
		if i == 3 && cc == types.CodeOK && (len(resp) < 2 || len(resp) > 18) {
			t.Fatalf("Get SEL Entry(% x) = % x", req, resp)
		}
		if n := m.sel.Info().Entries; n > 32 {
			t.Fatalf("SEL holds %d entries, capacity 32", n)
		}
	})
}

// FuzzPEFCommands drives the PEF, alerting and LAN-alert handlers. No
// destination has an address, so nothing is sent.
func FuzzPEFCommands(f *testing.F) {
	for _, seed := range []struct {
		which uint8
		data  []byte
	}{
		{0, nil}, {1, []byte{0xFF}}, {1, []byte{0x3C}},
		{2, []byte{1, 0x01}}, {2, append([]byte{6, 3}, make([]byte, 20)...)}, {2, []byte{9, 2, 0x18, 0x11, 0}},
		{2, []byte{13, 1, 2, 'h', 'i'}}, {2, []byte{5, 1}},
		{3, []byte{6, 1, 0}}, {3, []byte{13, 3, 4}}, {3, []byte{0x81, 0, 0}}, {3, []byte{9, 17, 0}},
		{4, []byte{1, 5, 0}}, {5, nil}, {6, []byte{1, 1, 0}}, {6, []byte{1, 1, 0, 0x20, 0, 4, 0x0C, 1, 0x6F, 0x30, 0xFF}},
		{7, make([]byte, 12)}, {8, []byte{1, 19, 1, 0}}, {8, []byte{1, 18, 9, 0}},
		{9, []byte{1, 19, 1, 0, 0, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0}}, {9, []byte{1, 18, 1, 0x80, 3, 2}},
	} {
		f.Add(seed.which, seed.data)
	}
	m := testMachine(f, newPlatform(f))
	hs := []handlers.HandlerFunc{
		handleGetPEFCapabilities(m), handleArmPEFPostponeTimer(m.pef), handleSetPEFConfig(m.pef), handleGetPEFConfig(m.pef),
		handleSetLastProcessedEventID(m.pef), handleGetLastProcessedEventID(m.pef), handleAlertImmediate(m.pef),
		handlePETAcknowledge(m.pef), handleGetLANConfigParams(m), handleSetLANConfigParams(m),
	}
	f.Fuzz(func(t *testing.T, which uint8, req []byte) {
		i := int(which) % len(hs)
		if i == 9 && len(req) > 1 && req[1] == 19 {
			return // would point destinations at real addresses
		}
		resp, cc, err := hs[i](context.Background(), nil, req)
		if err != nil || (cc != types.CodeOK && resp != nil) {
			t.Fatalf("handler %d(% x) = % x, %#02x, %v", i, req, resp, uint8(cc), err)
		}
	})
}

// panicWatch is a log sink that remembers whether a handler panicked.
type panicWatch struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *panicWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Contains(p, []byte("panicked")) {
		w.b.Write(p)
	}
	return len(p), nil
}

func (w *panicWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// FuzzDispatch drives the whole registry, go-ipmi's handlers included, as
// an administrator session would: no request may crash the server, and none
// of them should even need the panic guard.
func FuzzDispatch(f *testing.F) {
	for _, seed := range []struct {
		netFn, cmd uint8
		data       []byte
	}{
		{0x06, 0x01, nil}, {0x06, 0x37, nil}, {0x00, 0x01, nil}, {0x00, 0x02, []byte{0x01}},
		{0x0A, 0x10, []byte{1}}, {0x0A, 0x11, []byte{1, 0, 0, 16}}, {0x0A, 0x20, nil}, {0x0A, 0x21, nil},
		{0x0A, 0x22, nil}, {0x0A, 0x23, []byte{0, 0, 0, 0, 0, 0xFF}}, {0x04, 0x2D, []byte{1}},
		{0x04, 0x20, []byte{1}}, {0x04, 0x2B, []byte{3}}, {0x04, 0x2F, []byte{2}}, {0x2C, 0x00, []byte{0}},
		{0x0A, 0x40, nil}, {0x0A, 0x43, []byte{0, 0, 0, 0, 0, 0xFF}}, {0x0A, 0x44, make([]byte, 16)},
		{0x0A, 0x47, []byte{0, 0, 'C', 'L', 'R', 0xAA}}, {0x04, 0x02, []byte{4, 1, 0x30, 1, 0x57, 0x30, 0x30}},
		// Chassis Identify (interval, force), System Boot Options.
		{0x00, 0x04, []byte{15}}, {0x00, 0x04, []byte{0, 1}}, {0x00, 0x04, nil},
		{0x00, 0x08, []byte{5, 0xE0, 0x04, 0, 0, 0}}, {0x00, 0x08, []byte{5}}, {0x00, 0x09, []byte{5, 0, 0}},
		// Set User Name on a free user ID: creation.
		{0x06, 0x45, append([]byte{7}, "fuzzed\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"...)},
	} {
		f.Add(seed.netFn, seed.cmd, seed.data)
	}
	p := newPlatform(f)
	var watch panicWatch
	m := newMachine(p, textLogger(&watch))
	users, err := validateUsers(testUsers)
	if err != nil {
		f.Fatal(err)
	}
	b, err := newBMC(m, users, false)
	if err != nil {
		f.Fatal(err)
	}
	reg := newRegistry(m, textLogger(&watch))
	ch, err := b.Channels.Get(lanChannel)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, netFn, cmd uint8, data []byte) {
		netFn &^= 1 // requests carry even NetFns
		if netFn == 0x0C && cmd == 0x01 && len(data) > 1 && data[1] == 19 {
			return // would point PET destinations at real addresses
		}
		sess := &bmc.Session{PrivilegeLevel: bmc.PrivilegeLevelAdministrator, Channel: lanChannel}
		hctx := &handlers.HandlerContext{BMC: b, Session: sess, Channel: ch}
		_, _, _ = reg.Dispatch(context.Background(), hctx, netFn, cmd, data)
		if s := watch.String(); s != "" {
			t.Fatalf("netfn %#02x cmd %#02x data % x: %s", netFn, cmd, data, s)
		}
	})
}

// FuzzMCCommands drives the channel, LAN, global-enable, watchdog and DCMI
// handlers (mc.go) with arbitrary requests.
func FuzzMCCommands(f *testing.F) {
	for _, seed := range []struct {
		which uint8
		data  []byte
	}{
		{0, []byte{0x0E}}, {0, []byte{0}}, {1, []byte{1, 0x40}}, {1, []byte{1, 0}}, {2, nil}, {3, []byte{0x08}}, {3, []byte{0x0F}},
		{4, nil}, {5, []byte{0x04, 0x01, 0, 0, 0x64, 0}}, {5, []byte{0x44, 0x13, 5, 0x3E, 0xFF, 0xFF}}, {6, nil},
		{7, []byte{0xDC, 1}}, {7, []byte{0xDC, 9}}, {8, []byte{0xDC, 1, 0, 0}}, {8, []byte{0xDC, 2, 0, 0}},
		{9, []byte{1, 3, 0, 0}}, {9, []byte{0x81, 5, 0, 0}}, {9, []byte{1, 24, 0, 0}}, {10, []byte{1, 3, 1, 2, 3, 4}}, {10, []byte{1, 0, 0}},
	} {
		f.Add(seed.which, seed.data)
	}
	m := testMachine(f, newPlatform(f))
	m.setClock(clock.NewManual(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)))
	hs := []handlers.HandlerFunc{
		handleGetChannelInfo(), handleGetChannelAccess(), handleGetGlobalEnables(m), handleSetGlobalEnables(m),
		handleGetWatchdog(m), handleSetWatchdog(m), handleResetWatchdog(m), handleDCMICapabilities(m), handleDCMIPowerReading(m),
		handleGetLANConfigParams(m), handleSetLANConfigParams(m),
	}
	f.Fuzz(func(t *testing.T, which uint8, req []byte) {
		i := int(which) % len(hs)
		if i == 10 && len(req) > 1 && req[1] == 19 {
			return // would point destinations at real addresses
		}
		resp, cc, err := hs[i](context.Background(), nil, req)
		if err != nil || (cc != types.CodeOK && resp != nil) {
			t.Fatalf("handler %d(% x) = % x, %#02x, %v", i, req, resp, uint8(cc), err)
		}
	})
}

// checkThresholdOrder: whatever sequence of requests the fuzzer sends, the
// thresholds stay ordered.
func checkThresholdOrder(t *testing.T, m *machine, req, _ []byte) {
	th := m.sensors.thresholds(req[0])
	if th[thUNC] > th[thUC] || th[thUC] > th[thUNR] {
		t.Fatalf("after % x: thresholds %v out of order", req, th)
	}
}

func FuzzSetSensorThresholds(f *testing.F) {
	fuzzHandler(f, handleSetSensorThresholds, checkThresholdOrder,
		[]byte{0xC0, 0x38, 0, 0, 0, 30, 40, 50}, []byte{0xC0, 0x08, 0, 0, 0, 99, 0, 0}, []byte{0xC1, 0x01, 1, 0, 0, 0, 0, 0},
		[]byte{0x01, 0x38, 0, 0, 0, 1, 2, 3}, []byte{0xC0}, nil, []byte{0xFF, 0x38, 0, 0, 0, 1, 2, 3, 4})
}

func FuzzTemperatureCommands(f *testing.F) {
	for _, s := range [][]byte{{0x27, 0xC0}, {0x23, 0xC0, 0x20}, {0x25, 0xC0, 0xFF}, {0x29, 0xC0}, {0x28, 0xC0, 0xD0, 0x80},
		{0x28, 0x01, 0x80, 0, 0, 0x40}, {0x2A, 0xC0, 0x80}, {0x2A, 0xC0, 0x00, 0x80, 0x02}, {0x2B, 0xC0}, {0x2D, 0xC3}, {0x2F, 0xC0}} {
		f.Add(s)
	}
	p := newPlatform(f)
	m := testMachine(f, p)
	hs := map[byte]handlers.HandlerFunc{
		0x23: handleGetSensorReadingFactors(m), 0x25: handleGetSensorHysteresis(m), 0x27: handleGetSensorThresholds(m),
		0x28: handleSetSensorEventEnable(m), 0x29: handleGetSensorEventEnable(m), 0x2A: handleRearmSensorEvents(m),
		0x2B: handleGetSensorEventStatus(m), 0x2D: handleGetSensorReading(m), 0x2F: handleGetSensorType(m),
	}
	f.Fuzz(func(t *testing.T, req []byte) {
		if len(req) == 0 || hs[req[0]] == nil {
			return
		}
		resp, cc, err := hs[req[0]](context.Background(), nil, req[1:])
		if err != nil || (cc != types.CodeOK && resp != nil) {
			t.Fatalf("% x: cc %#02x resp % x err %v", req, uint8(cc), resp, err)
		}
	})
}
