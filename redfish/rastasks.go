package redfish

import (
	"fmt"
	"net/http"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/events"
)

// The memory RAS hardware starts long copies on its own: a spare copy
// when a rank crosses its correctable-error threshold, a mirror
// re-silver or a RAID5 rebuild onto a replacement. Each becomes a task
// (with no Payload: no request started it) so a client can watch it the
// same way as one it started; its progress is the hardware's copy
// (Snapshot.RAS.Job), never a timer.

// copyOp follows one copy onto slot in redundant set set.
type copyOp struct {
	slot, set, kind string
	pct             int
}

func (o *copyOp) observe(e events.Event) (int, bool, *apiError, []message) {
	switch ev := e.(type) {
	case events.MemoryRebuildProgress:
		if ev.Set == o.set && ev.Slot == o.slot {
			o.pct = max(o.pct, ev.Percent)
		}
	case events.MemoryRebuildCompleted:
		if ev.Set == o.set && ev.Slot == o.slot {
			return 100, true, nil, specMessages(e)
		}
	case events.MemoryRebuildAborted:
		if ev.Set == o.set && ev.Slot == o.slot {
			return o.pct, true, o.failure(ev.Reason), specMessages(e)
		}
	case events.MemoryRebuildStarted:
		// A copy onto the same set restarted: this one will not end.
		if ev.Set == o.set {
			return o.pct, true, o.failure(fmt.Sprintf("a new %s onto %s replaced it", ev.Op, ev.Slot)), nil
		}
	case events.SurpriseRemoval, events.ModuleRemoved:
		if events.SlotOf(e) == o.slot {
			return o.pct, true, o.failure("the module was removed"), specMessages(e)
		}
	case events.MemoryRedundancyChanged:
		if ev.Set == o.set && ev.State == events.NonRedundant {
			return o.pct, true, o.failure(ev.Reason), specMessages(e)
		}
	}
	return o.pct, false, nil, nil
}

// livePercent is the copy's progress right now: the platform reports
// every tenth in events, the snapshot every step.
func (o *copyOp) livePercent(snap *platform.Snapshot) (int, bool) {
	j := snap.RAS.Job
	if j == nil || j.Set != o.set || j.Slot != o.slot || j.Kind != o.kind {
		return 0, false
	}
	return j.Percent, true
}

func (o *copyOp) failure(reason string) *apiError {
	e := newAPIError(http.StatusConflict, "GeneralError")
	e.detail = fmt.Sprintf("The %s of %s onto memory slot %s did not complete: %s.", o.kind, o.set, o.slot, reason)
	return e
}

// result is the module the copy went onto, as it is now.
func (o *copyOp) result(s *service) (*response, error) {
	sl, ok := s.platform.Snapshot().Slot(o.slot)
	if !ok {
		return nil, errResourceNotFound("Memory", o.slot)
	}
	return &response{status: http.StatusOK, body: memoryResource(sl)}, nil
}

// startHardwareTasks makes a task of each copy the hardware starts. It
// runs in the event pump, before the record is fed to the tasks.
func (s *service) startHardwareTasks(rec events.Record) {
	ev, ok := rec.Event.(events.MemoryRebuildStarted)
	if !ok {
		return
	}
	t := &task{state: taskNew, health: "OK", start: s.now(), fromSeq: rec.Seq,
		op:   &copyOp{slot: ev.Slot, set: ev.Set, kind: ev.Op},
		name: fmt.Sprintf("Memory %s of %s onto %s", ev.Op, ev.Set, ev.Slot)}
	if !s.tasks.add(t) {
		s.log.Warn("redfish: task store full of running tasks; no task for the memory copy", "slot", ev.Slot, "op", ev.Op)
		return
	}
	s.tasks.arm(t.id, s.now(), s.publishTaskEvent, specMessages(ev)...)
}
