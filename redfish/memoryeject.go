package redfish

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/firmware"
)

// PATCH Memory {"Enabled": false} hot-removes the module: the BMC presses
// the slot's attention button for the operator, the SMC raises the eject
// request, the OS offlines and removes the module's memory, the firmware
// runs _EJ0 and the slot powers down, ready for the module to be pulled.
// That is what Enabled false means at run time on this board: the module
// is out of service (Status.State Disabled) and safe to pull. It takes
// longer than a request, so it answers 202 with a task monitor.
//
// {"Enabled": true} on such a module (ejected, or refused and still
// latched in its isolated slot) is the attention press the SMC takes as a
// retry: a full hot-add (SPD check, power ramp, training, address map,
// the OS adding the memory), followed by a task the same way.

// hotRemover is what a platform needs for a writable Memory.Enabled: the
// attention button, and the event sequence so the task can tell the
// events of its own eject from earlier ones.
type hotRemover interface {
	PressAttention(slot string) error
	LastEventSeq() uint64
}

// memoryEnabled is Memory.Enabled: whether the module is in service or on
// its way there. Empty slots have no Enabled.
func memoryEnabled(sl platform.Slot) *bool {
	if sl.Module == nil {
		return nil
	}
	return ptr(sl.State != platform.StateDisabled && sl.State != platform.StateFailed)
}

// setMemoryEnabled starts the change of Enabled on slot id and returns its
// task, or nil when the module already is as asked. problems are the
// refused properties of the same PATCH, kept as task messages.
func (s *service) setMemoryEnabled(r *request, id string, want bool, problems []*apiError) (*task, error) {
	hr, ok := s.platform.(hotRemover)
	if !ok || s.events == nil {
		// Without the event stream nothing could follow the eject.
		return nil, failAll(append(problems, propErr(http.StatusBadRequest, "PropertyNotWritable", "Enabled", "Enabled")))
	}
	sl, _ := r.snap.Slot(id)
	cur := memoryEnabled(sl)
	value := strconv.FormatBool(want)
	switch {
	case cur == nil:
		e := propErr(http.StatusBadRequest, "PropertyValueIncorrect", "Enabled", "Enabled", value)
		e.detail = "Memory slot " + id + " is empty."
		return nil, e
	case *cur == want:
		return nil, nil
	}
	// Enabled false ejects the module; Enabled true brings a seated module
	// that is out of service (ejected, or refused) back: the attention
	// press on it is the SMC's retry, a full hot-add.
	var op taskOp = &ejectOp{slot: id}
	if want {
		op = &hotAddOp{slot: id}
	}
	from := hr.LastEventSeq()
	var msgs []message
	for _, p := range problems {
		msgs = append(msgs, p.messages()...)
	}
	t, err := s.startTask(op, from, &taskPayload{HTTPOperation: http.MethodPatch, TargetURI: memoryPath(id), JSONBody: string(r.body)}, msgs)
	if err != nil {
		return nil, err
	}
	if err := hr.PressAttention(id); err != nil {
		s.tasks.forget(t.id)
		switch {
		case errors.Is(err, platform.ErrUnknownSlot):
			return nil, errResourceNotFound("Memory", id)
		case errors.Is(err, platform.ErrWrongState):
			e := newAPIError(http.StatusConflict, "ResourceInUse")
			e.detail = fmt.Sprintf("Memory slot %s cannot change Enabled to %s now: %v.", id, value, err)
			return nil, e
		}
		return nil, fmt.Errorf("press attention of %s: %w", id, err)
	}
	s.armTask(t.id)
	return t, nil
}

// ejectOp follows one hot-remove through the platform's events. Its
// steps, in order, are what the platform reports of the eject; progress
// is the share of them reached.
type ejectOp struct {
	slot string
	step int
	// ost is the last eject _OST status reported for the device: it says
	// whether a failure was "not supported" or "in use".
	ost uint32
}

const ejectSteps = 6 // attention, SCI, OS accepted, memory removed, _EJ0, slot ready

func (o *ejectOp) reach(n int) {
	if n > o.step {
		o.step = n
	}
}

func (o *ejectOp) observe(e events.Event) (int, bool, *apiError, []message) {
	if events.SlotOf(e) != o.slot {
		return o.percent(), false, nil, nil
	}
	msgs := specMessages(e)
	switch ev := e.(type) {
	case events.AttentionPressed:
		if o.step == 0 && ev.Intent != "remove" {
			return o.percent(), true, o.failure(fmt.Sprintf("the service controller took the attention press as %q, not as a removal", ev.Intent)), msgs
		}
		o.reach(1)
	case events.SCIRaised:
		if ev.Cause == "eject-request" {
			o.reach(2)
		}
	case events.ACPIOST:
		if ev.Source == firmware.OSTSourceEject || ev.Source == uint32(firmware.NotifyEjectRequest) {
			o.ost = ev.Status
			if ev.Status == firmware.OSTEjectInProgress {
				o.reach(3)
			}
		}
	case events.KernelMemoryRemoved:
		o.reach(4)
	case events.MemoryEjected:
		o.reach(5)
	case events.SlotReady:
		if ev.For == "removal" {
			return 100, true, nil, msgs
		}
	case events.EjectFailed:
		return o.percent(), true, o.failure(ev.Reason), msgs
	case events.SurpriseRemoval, events.ModuleRemoved:
		return o.percent(), true, o.failure("the module was pulled before the slot was ready for removal"), msgs
	}
	return o.percent(), false, nil, msgs
}

func (o *ejectOp) percent() int { return o.step * 100 / ejectSteps }

// failure is the response the PATCH would have given had it waited: the
// value refused when the platform cannot eject this module at all (boot
// memory has no _EJ0), the resource busy when it could not now.
func (o *ejectOp) failure(reason string) *apiError {
	var e *apiError
	if o.ost == firmware.OSTEjectNotSupported {
		e = propErr(http.StatusBadRequest, "PropertyValueIncorrect", "Enabled", "Enabled", "false")
	} else {
		e = newAPIError(http.StatusConflict, "ResourceInUse")
	}
	e.detail = fmt.Sprintf("The eject request for memory slot %s failed: %s.", o.slot, reason)
	return e
}

// result is the PATCH's response once the module is out: the Memory
// resource as it is now.
func (o *ejectOp) result(s *service) (*response, error) {
	sl, ok := s.platform.Snapshot().Slot(o.slot)
	if !ok {
		return nil, errResourceNotFound("Memory", o.slot)
	}
	return &response{status: http.StatusOK, body: memoryResource(sl)}, nil
}

// hotAddOp follows the hot-add of a seated module the SMC retries: its
// steps are the platform's hot-add as the events report it.
type hotAddOp struct {
	slot   string
	step   int
	reason string // the last failure the platform reported
}

const hotAddSteps = 8 // attention, SPD, power, SCI, training, TAD, OS add, _OST

func (o *hotAddOp) observe(e events.Event) (int, bool, *apiError, []message) {
	if events.SlotOf(e) != o.slot {
		return o.percent(), false, nil, nil
	}
	msgs := specMessages(e)
	reach := func(n int) { o.step = max(o.step, n) }
	switch ev := e.(type) {
	case events.AttentionPressed:
		if o.step == 0 && ev.Intent != "retry" {
			return o.percent(), true, o.failure(fmt.Sprintf("the service controller took the attention press as %q, not as a retry", ev.Intent)), msgs
		}
		reach(1)
	case events.SPDAccepted:
		reach(2)
	case events.SlotPowerChanged:
		if ev.State == "Nominal" {
			reach(3)
		}
	case events.SCIRaised:
		if ev.Cause == "insert" {
			reach(4)
		}
	case events.MemoryTrained:
		reach(5)
	case events.AddressMapUpdated:
		if ev.Op == "add" {
			reach(6)
		}
	case events.KernelMemoryAdded:
		reach(7)
	case events.MemoryHotAdded:
		return 100, true, nil, msgs
	case events.SPDCheckFailed:
		return o.percent(), true, o.failure(ev.Reason + ": " + ev.Detail), msgs
	case events.TrainingFailed:
		o.reason = ev.Stage + ": " + ev.Reason
	case events.FirmwareFault:
		o.reason = ev.Reason
	case events.AddressMapRejected:
		o.reason = ev.Reason
	case events.KernelMemoryAddFailed:
		o.reason = ev.Reason
	case events.FirmwareTimeout:
		o.reason = "timeout in " + ev.Stage
	case events.MemoryReplaceRefused:
		o.reason = ev.Reason
	case events.SlotReady:
		// A failed hot-add ends with the SMC powering the module down
		// for the operator to pull.
		if ev.For == "removal" {
			reason := o.reason
			if reason == "" {
				reason = "the module was powered down"
			}
			return o.percent(), true, o.failure(reason), msgs
		}
	case events.SurpriseRemoval, events.ModuleRemoved:
		return o.percent(), true, o.failure("the module was pulled"), msgs
	}
	return o.percent(), false, nil, msgs
}

func (o *hotAddOp) percent() int { return o.step * 100 / hotAddSteps }

// failure: the platform refused the module, so true could not be applied.
func (o *hotAddOp) failure(reason string) *apiError {
	e := propErr(http.StatusBadRequest, "PropertyValueIncorrect", "Enabled", "Enabled", "true")
	e.detail = fmt.Sprintf("The hot-add of memory slot %s failed: %s.", o.slot, reason)
	return e
}

func (o *hotAddOp) result(s *service) (*response, error) {
	sl, ok := s.platform.Snapshot().Slot(o.slot)
	if !ok {
		return nil, errResourceNotFound("Memory", o.slot)
	}
	return &response{status: http.StatusOK, body: memoryResource(sl)}, nil
}
