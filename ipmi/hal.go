package ipmi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	chassiscmd "github.com/bougou/go-ipmi/pkg/command/chassis"
	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/sel"
)

// machine is the go-ipmi HAL over the platform. It holds no state of its
// own beyond a memo of the last repository view, keyed by snapshot identity:
// snapshots are immutable, so the memo can never disagree with the platform.
type machine struct {
	p    Platform
	log  *slog.Logger
	memo atomic.Pointer[repository]
	res  reservations
	sel  *sel.SEL
	// pef sees every record the event receiver logs.
	pef *pef
	// states de-duplicates lasting sensor states across platform facts.
	states sensorStates
	// sensors holds client-set event enables and temperature thresholds.
	sensors sensorControl

	clk     clock.Clock
	started time.Time
	lan     lanInfo
	enables atomic.Uint32 // BMC Global Enables
	wd      *watchdog
	power   powerStats
	boot    bootFlags
	// solAttached: a SOL payload holds the host's serial console.
	solAttached atomic.Bool
	// faults resets the BMC on Cold Reset, for coldReset (faults.go).
	faults    Faults
	coldReset time.Duration
}

// newMachine starts with an in-memory SEL; New swaps in the durable one.
func newMachine(p Platform, log *slog.Logger) *machine {
	s, _ := sel.Open(sel.Options{Logger: log}) // an in-memory SEL cannot fail to open
	m := &machine{p: p, log: log, sel: s}
	m.setClock(clock.Real{})
	m.enables.Store(defaultEnables)
	m.pef = newPEF(m, log.With("function", "PEF"), 0)
	return m
}

// setClock sets the clock the watchdog and DCMI statistics run on.
func (m *machine) setClock(c clock.Clock) {
	m.clk, m.started = c, c.Now()
	m.wd = &watchdog{clk: c}
}

var _ hal.HAL = (*machine)(nil)

func (m *machine) Chassis() hal.ChassisHAL { return chassis{m} }
func (m *machine) Sensors() hal.SensorHAL  { return nil } // sensor commands are registered directly
func (m *machine) Storage() hal.StorageHAL { return storageHAL{m} }
func (m *machine) Network() hal.NetworkHAL { return nil }
func (m *machine) GPIO() hal.GPIOHAL       { return nil }
func (m *machine) I2C() hal.I2CHAL         { return nil }
func (m *machine) Console() hal.ConsoleHAL { return m.console() } // sol.go
func (m *machine) Close() error            { return nil }

// chassis maps Chassis Control onto the platform's power switch and reset
// line. Resets are refused while the host is off, as spec §28.3 recommends
// for power cycle.
type chassis struct{ m *machine }

// errNotInPresentState is completion code D5h, "not supported in present
// state"; go-ipmi passes a CompletionCode error through as the answer.
var errNotInPresentState error = types.CodeNotSupported

func (c chassis) PowerState(context.Context) (bool, error) {
	return c.m.p.Snapshot().PowerOn, nil
}

func (c chassis) SetPower(_ context.Context, on bool) error {
	if err := c.m.p.SetPower(on); err != nil {
		c.m.log.Error("chassis power change failed", "on", on, "err", err)
		return fmt.Errorf("set power %v: %w", on, err)
	}
	c.m.log.Info("chassis power set", "on", on)
	return nil
}

func (c chassis) PowerCycle(ctx context.Context) error {
	if !c.m.p.Snapshot().PowerOn {
		return errNotInPresentState
	}
	if _, ok := c.m.p.(resetter); ok {
		return c.m.hostReset(platform.ResetPowerCycle)
	}
	if err := c.SetPower(ctx, false); err != nil {
		return err
	}
	return c.SetPower(ctx, true)
}

// ColdReset is Chassis Control "hard reset": the host boots again, which
// consumes a Once boot override.
func (c chassis) ColdReset(context.Context) error {
	if !c.m.p.Snapshot().PowerOn {
		return errNotInPresentState
	}
	if err := c.m.p.HostReset(); err != nil {
		if errors.Is(err, platform.ErrWrongState) {
			return errNotInPresentState
		}
		c.m.log.Error("chassis hard reset failed", "err", err)
		return fmt.Errorf("hard reset: %w", err)
	}
	c.m.log.Info("chassis hard reset")
	return nil
}

// WarmReset is what go-ipmi calls for Chassis Control "soft shutdown": an
// ACPI power-button press, which ends with the host off.
func (c chassis) WarmReset(ctx context.Context) error {
	if !c.m.p.Snapshot().PowerOn {
		return errNotInPresentState
	}
	if _, ok := c.m.p.(resetter); ok {
		return c.m.hostReset(platform.ResetGracefulShutdown)
	}
	return c.SetPower(ctx, false)
}

// identifier is a platform with a chassis identify LED.
type identifier interface {
	SetChassisIdentify(state string, d time.Duration) error
}

// Identify is Chassis Identify (§28.5): an interval blinks the LED for that
// many seconds, 0 turns it off, and go-ipmi passes Force Identify On as
// 255, which lights it until changed (so a literal 255-second interval
// does too).
func (c chassis) Identify(_ context.Context, seconds uint8) error {
	id, ok := c.m.p.(identifier)
	if !ok {
		return types.CodeInvalidCommand
	}
	state, d := platform.IdentifyBlinking, time.Duration(seconds)*time.Second
	switch seconds {
	case 0:
		state, d = platform.IdentifyOff, 0
	case 0xFF:
		state, d = platform.IdentifyLit, 0
	}
	if err := id.SetChassisIdentify(state, d); err != nil {
		return fmt.Errorf("chassis identify: %w", err)
	}
	c.m.log.Info("chassis identify", "state", state, "seconds", seconds)
	return nil
}

// handleGetChassisStatus is go-ipmi's Get Chassis Status (§28.2) plus the
// identify LED's state, which its HAL has no way to ask for.
func handleGetChassisStatus(m *machine) handlers.HandlerFunc {
	return func(context.Context, *handlers.HandlerContext, []byte) ([]byte, types.CompletionCode, error) {
		snap := m.p.Snapshot()
		resp := &chassiscmd.GetChassisStatusResponse{PowerIsOn: snap.PowerOn}
		if _, ok := m.p.(identifier); ok {
			resp.ChassisIdentifySupported = true
			switch {
			case snap.Identify.State == platform.IdentifyOff || snap.Identify.State == "":
				resp.ChassisIdentifyState = chassiscmd.ChassisIdentifyStateOff
			case !snap.Identify.Until.IsZero():
				resp.ChassisIdentifyState = chassiscmd.ChassisIdentifyStateTemporaryOn
			default:
				resp.ChassisIdentifyState = chassiscmd.ChassisIdentifyStateIndefiniteOn
			}
		}
		return resp.Pack(), types.CodeOK, nil
	}
}

func (chassis) IntrusionState(context.Context) (bool, error) { return false, hal.ErrNotSupported }

// SetBootFlags applies System Boot Options parameter 5 to the platform's
// boot override, which Redfish shows too. A selector no Redfish target
// names is refused with CCh (see bootSelectors). The bits only IPMI speaks
// are kept here, for Get to return as set.
func (c chassis) SetBootFlags(_ context.Context, f *types.BootOptionParam_BootFlags) error {
	o, ok := overrideFromFlags(f)
	if !ok {
		c.m.log.Info("boot device selector refused", "device", f.BootDeviceSelector)
		return types.CodeRequestDataFieldInvalid
	}
	b := &c.m.boot
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := c.m.p.SetBootOverride(o); err != nil {
		c.m.log.Error("boot override not set", "err", err)
		return fmt.Errorf("set boot flags: %w", err)
	}
	cp := *f
	b.flags = &cp
	c.m.log.Info("boot flags set", "target", o.Target, "enabled", o.Enabled, "mode", o.Mode)
	return nil
}

// GetBootFlags reads the override from the platform, so a change made
// through Redfish, or a Once override the host consumed, shows here.
func (c chassis) GetBootFlags(context.Context) (*types.BootOptionParam_BootFlags, error) {
	b := &c.m.boot
	b.mu.Lock()
	defer b.mu.Unlock()
	var base types.BootOptionParam_BootFlags
	if b.flags != nil {
		base = *b.flags
	}
	return applyOverride(base, c.m.p.Snapshot().Boot), nil
}

func (c chassis) SetBootInfoAcknowledge(_ context.Context, a *types.BootOptionParam_BootInfoAcknowledge) error {
	b := &c.m.boot
	b.mu.Lock()
	defer b.mu.Unlock()
	cp := *a
	b.ack = &cp
	return nil
}

func (c chassis) GetBootInfoAcknowledge(context.Context) (*types.BootOptionParam_BootInfoAcknowledge, error) {
	b := &c.m.boot
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ack == nil {
		return &types.BootOptionParam_BootInfoAcknowledge{}, nil
	}
	cp := *b.ack
	return &cp, nil
}

type storageHAL struct{ m *machine }

func (s storageHAL) FRU() hal.FRUStore { return fruStore(s) }
func (s storageHAL) SDR() hal.SDRStore { return sdrStore(s) }

// fruStore serves FRU images rebuilt from the snapshot on every read, so an
// insert or remove is visible to the next Read FRU Data.
type fruStore struct{ m *machine }

func (f fruStore) Read(_ context.Context, id uint8) ([]byte, error) {
	return fruImage(f.m.p.Snapshot(), id)
}

func (fruStore) Write(context.Context, uint8, []byte) error { return hal.ErrNotSupported }
func (fruStore) Delete(context.Context, uint8) error        { return hal.ErrNotSupported }

func (f fruStore) DeviceIDs(context.Context) ([]uint8, error) {
	return fruDeviceIDs(f.m.p.Snapshot()), nil
}

// sdrStore exposes the repository to go-ipmi's Get SDR Repository
// Allocation Info; the other SDR commands are this package's own.
type sdrStore struct{ m *machine }

func (s sdrStore) Read(_ context.Context, id uint16) ([]byte, error) {
	rec, ok := s.m.repository().record(id)
	if !ok {
		return nil, hal.ErrNotFound
	}
	return rec, nil
}

func (sdrStore) Write(context.Context, uint16, []byte) error { return hal.ErrNotSupported }
func (sdrStore) Delete(context.Context, uint16) error        { return hal.ErrNotSupported }

func (s sdrStore) RecordIDs(context.Context) ([]uint16, error) {
	return s.m.repository().ids(), nil
}
