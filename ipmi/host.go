package ipmi

import (
	"context"
	"errors"
	"fmt"

	chassiscmd "github.com/bougou/go-ipmi/pkg/command/chassis"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/sel"
)

// resetter is a platform whose host takes the DSP0268-style resets
// (platform.Reset): Chassis Control's power cycle, soft shutdown and
// diagnostic interrupt each become the host's own sequence.
type resetter interface {
	Reset(kind string) error
}

// hostReset runs a reset on the platform, mapping a host in the wrong
// state to D5h "not supported in present state".
func (m *machine) hostReset(kind string) error {
	r, ok := m.p.(resetter)
	if !ok {
		return types.CodeInvalidCommand
	}
	if err := r.Reset(kind); err != nil {
		if errors.Is(err, platform.ErrWrongState) {
			return errNotInPresentState
		}
		m.log.Error("chassis control failed", "reset", kind, "err", err)
		return fmt.Errorf("chassis control %s: %w", kind, err)
	}
	m.log.Info("chassis control", "reset", kind)
	return nil
}

// handleChassisControl is Chassis Control (IPMI v2.0 §28.3) with the
// diagnostic interrupt go-ipmi's HAL cannot express: power down, power up,
// power cycle (the power stays off for the platform's interval, at least
// the 1 s the spec asks), hard reset, pulse diagnostic interrupt (an NMI
// to the host's OS) and soft shutdown (an ACPI power-button press: the OS
// shuts down and powers off).
func handleChassisControl(m *machine) handlers.HandlerFunc {
	return func(ctx context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		var r chassiscmd.ChassisControlRequest
		if err := r.Unpack(req); err != nil || len(req) < 1 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		c := chassis{m}
		var err error
		switch r.ChassisControl {
		case chassiscmd.ChassisControlPowerDown:
			err = c.SetPower(ctx, false)
		case chassiscmd.ChassisControlPowerUp:
			err = c.SetPower(ctx, true)
		case chassiscmd.ChassisControlPowerCycle:
			err = c.PowerCycle(ctx)
		case chassiscmd.ChassisControlHardReset:
			err = c.ColdReset(ctx)
		case chassiscmd.ChassisControlDiagnosticInterrupt:
			err = m.hostReset(platform.ResetNmi)
		case chassiscmd.ChassisControlSoftShutdown:
			err = c.WarmReset(ctx)
		default:
			return nil, types.CodeParameterOutOfRange, nil
		}
		var cc types.CompletionCode
		if errors.As(err, &cc) {
			return nil, cc, nil
		}
		if err != nil {
			return nil, types.CodeUnspecifiedError, nil
		}
		return nil, types.CodeOK, nil
	}
}

// The host's own records in the SEL. The firmware and the OS log them
// through the BMC's event receiver, so they carry their generator's
// software ID (IPMI v2.0 §5.5, Table 5-4), not the BMC's slave address:
// their sensor numbers are the generator's own and share nothing with the
// BMC's sensors.
//
//	platform event    generator            sensor (type)                          offset
//	SystemRestarted   BIOS (01h)           01h System Boot/Restart Initiated (1Dh)  00h power up, 01h hard reset, 02h warm reset
//	OSBootCompleted   BIOS (01h)           02h OS Boot (1Fh)                        00h A: (USB), 01h C: (disk), 02h PXE, 04h CD-ROM
//	OSShutdown        OS, SMS (41h)        01h OS Stop/Shutdown (20h)               03h OS graceful shutdown (power off)
//	NMIRaised         SMI handler (21h)    01h Critical Interrupt (13h)             00h front panel NMI / diagnostic interrupt
//
// A warm restart's shutdown is the restart record that follows it. POST
// stages and failed boot devices are not logged (the console and Redfish
// BootProgress show them), as BIOSes log only the boot's start and end.
const (
	generatorBIOS = 0x0001
	generatorSMI  = 0x0021
	generatorOS   = 0x0041

	sensorTypeCriticalInterrupt = 0x13
	sensorTypeSystemBoot        = 0x1D
	sensorTypeOSBoot            = 0x1F
	sensorTypeOSStop            = 0x20
)

// osBootOffsets are the OS Boot offsets (Table 42-3) of the boot targets.
var osBootOffsets = map[string]uint8{
	platform.BootTargetUsb: 0x00, platform.BootTargetHdd: 0x01, platform.BootTargetPxe: 0x02,
	platform.BootTargetDiags: 0x03, platform.BootTargetCd: 0x04,
}

// hostRecord is the SEL event for a host fact, if it has one.
func hostRecord(e events.Event) (sel.Event, bool) {
	ev := sel.Event{EvMRev: sel.EvMRev, EventType: readingTypeSensorSpecial, SensorNumber: 0x01}
	switch e := e.(type) {
	case events.SystemRestarted:
		off, ok := map[string]uint8{events.RestartPowerUp: 0x00, events.RestartHardReset: 0x01, events.RestartWarmReset: 0x02}[e.Cause]
		if !ok {
			off = 0x07 // system restart
		}
		ev.GeneratorID, ev.SensorType, ev.Data = generatorBIOS, sensorTypeSystemBoot, [3]byte{off, 0xFF, 0xFF}
	case events.OSBootCompleted:
		off, ok := osBootOffsets[e.Target]
		if !ok {
			off = 0x06 // boot completed, device not specified
		}
		ev.GeneratorID, ev.SensorType, ev.SensorNumber, ev.Data = generatorBIOS, sensorTypeOSBoot, 0x02, [3]byte{off, 0xFF, 0xFF}
	case events.OSShutdown:
		if e.Reboot {
			return sel.Event{}, false
		}
		ev.GeneratorID, ev.SensorType, ev.Data = generatorOS, sensorTypeOSStop, [3]byte{0x03, 0xFF, 0xFF}
	case events.NMIRaised:
		ev.GeneratorID, ev.SensorType, ev.Data = generatorSMI, sensorTypeCriticalInterrupt, [3]byte{0x00, 0xFF, 0xFF}
	default:
		return sel.Event{}, false
	}
	return ev, true
}

// hostEvent logs a host fact; it reports whether the fact had a record.
func (m *machine) hostEvent(e events.Event, logging bool) bool {
	ev, ok := hostRecord(e)
	if !ok {
		return false
	}
	if logging {
		_, _ = m.logEvent(ev)
	}
	return true
}

// The system's power draw for DCMI Get Power Reading (DCMI v1.5 §6.6.1),
// by what the host is doing: standby when off; while POST runs the fans
// spin at full speed and the processors run without power management
// (memory training exercises every module); an idle OS manages power; a
// host stopped in its firmware (setup, nothing to boot) stays at POST
// levels without the training load.
const (
	powerStandbyW    = 12  // BMC and standby rail
	powerRampW       = 60  // the power supply coming up
	powerPOSTW       = 240 // processors unmanaged, fans at full speed
	powerTrainingW   = 8   // per module while memory training runs
	powerFirmwareW   = 210 // waiting in the firmware
	powerOSBootW     = 220 // loading and starting the OS
	powerIdleOSW     = 180 // the OS idling with power management
	powerPerDIMMW    = 5   // a seated module, in service
	powerShutdownOSW = 160 // services stopping
)

// powerWatts is the system's present draw.
func powerWatts(snap *platform.Snapshot) uint16 {
	h := snap.Host
	dimms := snap.Populated()
	switch {
	case !snap.PowerOn || h.PowerState == platform.PowerStateOff:
		return powerStandbyW
	case h.PowerState == platform.PowerStatePoweringOn:
		return powerRampW
	case h.ShuttingDown:
		return uint16(powerShutdownOSW + powerPerDIMMW*dimms)
	case h.OSRunning:
		return uint16(powerIdleOSW + powerPerDIMMW*dimms)
	}
	switch h.BootProgress {
	case platform.BootProgressMemoryInit:
		return uint16(powerPOSTW + (powerPerDIMMW+powerTrainingW)*dimms)
	case platform.BootProgressOSBootStarted:
		return uint16(powerOSBootW + powerPerDIMMW*dimms)
	case platform.BootProgressSetupEntered:
		return uint16(powerFirmwareW + powerPerDIMMW*dimms)
	}
	if h.Reason != "" {
		return uint16(powerFirmwareW + powerPerDIMMW*dimms)
	}
	return uint16(powerPOSTW + powerPerDIMMW*dimms)
}
