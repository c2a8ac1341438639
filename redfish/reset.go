package redfish

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/bmcemu/bmcemu/platform"
)

// ComputerSystem.Reset (DSP0268): every ResetType advertised is a
// different thing the host does (platform.Reset); the action answers once
// the host has started doing it, and the System's PowerState and
// BootProgress follow it from there.

type resetter interface {
	Reset(kind string) error
}

type resetBody struct {
	ResetType string `json:"ResetType" validate:"required,oneof=On ForceOff GracefulShutdown GracefulRestart ForceRestart Nmi PowerCycle PushPowerButton"`
}

// resetTypes are the platform's, which resetBody's list must equal
// (TestResetTypesMatchPlatform).
var resetTypes = platform.ResetTypes()

func resetPath() string { return systemPath() + "/Actions/ComputerSystem.Reset" }

const resetActionName = "#ComputerSystem.Reset"

func (s *service) postReset(r *request) (*response, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	rs, ok := s.platform.(resetter)
	if !ok {
		return nil, newAPIError(http.StatusBadRequest, "ActionNotSupported", resetActionName)
	}
	var in resetBody
	d, err := decodeAction(r.body, &in, resetActionName)
	if err != nil {
		return nil, err
	}
	if len(d.problems) > 0 {
		return nil, failAll(d.problems)
	}
	if err := rs.Reset(in.ResetType); err != nil {
		return nil, hostStateError(err, "reset "+in.ResetType)
	}
	return &response{status: http.StatusNoContent}, nil
}

// hostStateError words the platform's refusals of a host in the wrong
// state: off is standby (ResourceInStandby); booting, in setup or
// shutting down is in transition (ResourceInUse), with the reason.
func hostStateError(err error, op string) error {
	switch {
	case errors.Is(err, platform.ErrHostOff):
		e := newAPIError(http.StatusConflict, "ResourceInStandby")
		e.detail = "The system is powered off."
		return e
	case errors.Is(err, platform.ErrWrongState):
		e := newAPIError(http.StatusConflict, "ResourceInUse")
		e.detail = fmt.Sprintf("The system cannot do this now: %v.", err)
		return e
	}
	return fmt.Errorf("%s: %w", op, err)
}

// bootProgress is ComputerSystem.BootProgress (v1_13_0+): the stage the
// host's boot reached, as its firmware reports it.
type bootProgress struct {
	LastState     string `json:"LastState"`
	LastStateTime string `json:"LastStateTime,omitempty"`
}

func newBootProgress(h platform.HostStatus) bootProgress {
	bp := bootProgress{LastState: h.BootProgress}
	if !h.ProgressAt.IsZero() {
		bp.LastStateTime = h.ProgressAt.UTC().Format(time.RFC3339)
	}
	return bp
}

// systemPowerState is the System's PowerState: the chassis' power, with
// its transitions (a power supply ramping, an OS shutting down).
func systemPowerState(snap *platform.Snapshot) string {
	if snap.Host.PowerState != "" {
		return snap.Host.PowerState
	}
	return powerState(snap.PowerOn)
}
