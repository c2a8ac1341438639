package scenario

import (
	"context"
	"fmt"
	"time"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// Action is what one step does. Run returns a *Mismatch when the step
// checked something and found it otherwise (a test failure), any other
// error when it could not do its work (a test error).
type Action interface {
	// Describe says what the step does, for reports ("insert 64 GiB in
	// CPU0_DIMM_A2").
	Describe() string
	Run(ctx context.Context, env *Env) error
}

// faultKinds are the names `ctl fault --list` shows.
func faultKinds() []string {
	var out []string
	for _, k := range platform.FaultKinds() {
		out = append(out, k.Name)
	}
	return out
}

type attention string

func (a attention) Describe() string { return "attention " + string(a) }
func (a attention) Run(ctx context.Context, env *Env) error {
	_, err := env.Control.Attention(ctx, string(a))
	return err
}

type insertAction Insert

func (a *insertAction) Describe() string {
	if a.CapacityGiB > 0 {
		return fmt.Sprintf("insert %d GiB in %s", a.CapacityGiB, a.Slot)
	}
	return "insert in " + a.Slot
}

func (a *insertAction) Run(ctx context.Context, env *Env) error {
	_, err := env.Control.Insert(ctx, a.Slot, control.ModuleRequest{
		CapacityGiB: a.CapacityGiB, Type: spd.DeviceType(a.Type), BaseModule: spd.ModuleType(a.BaseModule), Ranks: a.Ranks,
		SpeedMTs: a.SpeedMTs, Manufacturer: a.Manufacturer, PartNumber: a.PartNumber, SerialNumber: a.SerialNumber,
	})
	return err
}

type remove string

func (a remove) Describe() string { return "remove " + string(a) }
func (a remove) Run(ctx context.Context, env *Env) error {
	_, err := env.Control.Remove(ctx, string(a))
	return err
}

type latchAction Latch

func (a *latchAction) Describe() string {
	if a.Open {
		return "open the latch of " + a.Slot
	}
	return "close the latch of " + a.Slot
}

func (a *latchAction) Run(ctx context.Context, env *Env) error {
	_, err := env.Control.Latch(ctx, a.Slot, a.Open)
	return err
}

type armFault Fault

func (a *armFault) Describe() string { return fmt.Sprintf("fault %s on %s", a.Kind, a.Slot) }
func (a *armFault) Run(ctx context.Context, env *Env) error {
	_, err := env.Control.ArmFault(ctx, a.Slot, a.Kind)
	return err
}

type clearFault Fault

func (a *clearFault) kind() string {
	if a.Kind == "" {
		return "all"
	}
	return a.Kind
}
func (a *clearFault) Describe() string { return fmt.Sprintf("clear fault %s on %s", a.kind(), a.Slot) }
func (a *clearFault) Run(ctx context.Context, env *Env) error {
	_, err := env.Control.ClearFault(ctx, a.Slot, a.kind())
	return err
}

type injectAction Inject

func (a *injectAction) Describe() string {
	return fmt.Sprintf("inject %d %s on %s rank %d", max(a.Count, 1), a.Kind, a.Slot, a.Rank)
}

func (a *injectAction) Run(ctx context.Context, env *Env) error {
	rank := a.Rank
	_, err := env.Control.InjectErrors(ctx, control.ErrorRequest{Slot: a.Slot, Rank: &rank, Kind: a.Kind, Count: a.Count, Address: a.Addr})
	return err
}

type failAction string

func (a failAction) Describe() string { return "fail " + string(a) }
func (a failAction) Run(ctx context.Context, env *Env) error {
	_, err := env.Control.FailModule(ctx, string(a))
	return err
}

type rateAction ErrorRate

func (a *rateAction) Describe() string {
	return fmt.Sprintf("error rate on %s rank %d: %g CE/s, %g UE/s", a.Slot, a.Rank, a.CEPerSec, a.UEPerSec)
}

func (a *rateAction) Run(ctx context.Context, env *Env) error {
	rank, ce := a.Rank, a.CEPerSec
	_, err := env.Control.SetErrorRate(ctx, control.RateRequest{Slot: a.Slot, Rank: &rank, CEPerSec: &ce, UEPerSec: a.UEPerSec})
	return err
}

type workloadAction Workload

func (a *workloadAction) Describe() string { return fmt.Sprintf("workload (seed %d)", a.Seed) }
func (a *workloadAction) Run(ctx context.Context, env *Env) error {
	_, err := env.Control.RunWorkload(ctx, control.WorkloadRequest{Seed: a.Seed, Pages: a.Pages})
	return err
}

type verifyAction Verify

func (a *verifyAction) intact() bool { return a.Intact == nil || *a.Intact }

func (a *verifyAction) Describe() string {
	if a.intact() {
		return "verify the workload: every byte there"
	}
	return "verify the workload: data lost"
}

func (a *verifyAction) Run(ctx context.Context, env *Env) error {
	v, err := env.Control.Verify(ctx)
	if err != nil {
		return err
	}
	bad := v.Lost + v.Mismatched
	seen := fmt.Sprintf("%d pages: %d matched, %d lost, %d mismatched %s", v.Pages, v.Matched, v.Lost, v.Mismatched, v.FirstError)
	switch {
	case a.intact() && bad != 0:
		return &Mismatch{Expected: fmt.Sprintf("all %d pages intact", v.Pages), Seen: seen}
	case !a.intact() && bad == 0:
		return &Mismatch{Expected: "some pages lost or mismatched", Seen: seen}
	}
	return nil
}

type rasModeAction string

func (a rasModeAction) Describe() string {
	if a == "" {
		return "RAS mode: the profile's, next boot"
	}
	return "RAS mode " + string(a) + " for the next boot"
}

func (a rasModeAction) Run(ctx context.Context, env *Env) error {
	_, err := env.Control.SetRASMode(ctx, string(a))
	return err
}

// powerAction resets the host through Redfish ComputerSystem.Reset, as a
// management tool would: ForceOff is the power cut.
type powerAction string

func (a powerAction) Describe() string { return "power " + string(a) }
func (a powerAction) Run(ctx context.Context, env *Env) error {
	return env.Redfish.Post(ctx, "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", map[string]string{"ResetType": string(a)})
}

type waitAction time.Duration

func (a waitAction) Describe() string { return "wait " + time.Duration(a).String() }
func (a waitAction) Run(ctx context.Context, env *Env) error {
	return env.Clock.Advance(ctx, time.Duration(a))
}
