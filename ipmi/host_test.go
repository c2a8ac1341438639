package ipmi

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/profile"
)

// DCMI's power reading follows the host: standby off, the supply ramping,
// POST's unmanaged processors and memory training, an idle OS.
func TestDCMIPowerFollowsTheHost(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p, err := platform.New(profile.Default(), platform.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	m := newMachine(p, discardLogger())
	m.setClock(clk)
	read := func() uint16 {
		t.Helper()
		resp, cc, err := handleDCMIPowerReading(m)(context.Background(), nil, []byte{dcmiGroup, 0x01, 0, 0})
		if err != nil || cc != types.CodeOK {
			t.Fatalf("power reading: %v %v", cc, err)
		}
		return binary.LittleEndian.Uint16(resp[1:])
	}
	idle := read()
	if idle != 180+5*16 {
		t.Errorf("idle OS: %d W", idle)
	}
	if err := p.Reset(platform.ResetForceOff); err != nil {
		t.Fatal(err)
	}
	if w := read(); w != 12 {
		t.Errorf("off: %d W", w)
	}
	if err := p.Reset(platform.ResetOn); err != nil {
		t.Fatal(err)
	}
	if w := read(); w != 60 {
		t.Errorf("power supply ramp: %d W", w)
	}
	seen := map[string]uint16{}
	for range 4000 {
		clk.Advance(10 * time.Millisecond)
		h := p.Snapshot().Host
		seen[h.BootProgress] = read()
		if h.OSRunning {
			break
		}
	}
	if seen[platform.BootProgressMemoryInit] != 240+13*16 || seen[platform.BootProgressPrimaryProcessor] != 240+5*16 ||
		seen[platform.BootProgressOSRunning] != idle {
		t.Errorf("readings by stage %v", seen)
	}
	// The statistics saw the whole range.
	resp, _, _ := handleDCMIPowerReading(m)(context.Background(), nil, []byte{dcmiGroup, 0x01, 0, 0})
	if lo, hi := binary.LittleEndian.Uint16(resp[3:]), binary.LittleEndian.Uint16(resp[5:]); lo != 12 || hi != 240+13*16 {
		t.Errorf("min %d max %d", lo, hi)
	}
}

func TestHostSELRecords(t *testing.T) {
	for _, tc := range []struct {
		e         events.Event
		gen       uint16
		typ, data byte
	}{
		{events.SystemRestarted{Cause: events.RestartPowerUp}, generatorBIOS, sensorTypeSystemBoot, 0x00},
		{events.SystemRestarted{Cause: events.RestartHardReset}, generatorBIOS, sensorTypeSystemBoot, 0x01},
		{events.SystemRestarted{Cause: events.RestartWarmReset}, generatorBIOS, sensorTypeSystemBoot, 0x02},
		{events.OSBootCompleted{Target: platform.BootTargetHdd}, generatorBIOS, sensorTypeOSBoot, 0x01},
		{events.OSBootCompleted{Target: platform.BootTargetCd}, generatorBIOS, sensorTypeOSBoot, 0x04},
		{events.OSShutdown{}, generatorOS, sensorTypeOSStop, 0x03},
		{events.NMIRaised{Handled: true}, generatorSMI, sensorTypeCriticalInterrupt, 0x00},
	} {
		ev, ok := hostRecord(tc.e)
		if !ok || ev.GeneratorID != tc.gen || ev.SensorType != tc.typ || ev.Data[0] != tc.data || ev.EventType != 0x6F {
			t.Errorf("%s %+v: %+v", tc.e.Kind(), tc.e, ev)
		}
	}
	if _, ok := hostRecord(events.OSShutdown{Reboot: true}); ok {
		t.Error("a warm restart's shutdown has its own record")
	}
}
