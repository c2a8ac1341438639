package ipmi

import (
	"context"
	"errors"
	"fmt"

	chassiscmd "github.com/bougou/go-ipmi/pkg/command/chassis"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
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
