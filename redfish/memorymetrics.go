package redfish

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/bmcemu/bmcemu/platform"
)

const typeMemoryMetrics = "#MemoryMetrics.v1_8_0.MemoryMetrics"

func memoryMetricsPath(slot string) string { return memoryPath(slot) + "/MemoryMetrics" }

// memoryMetricsResource is MemoryMetrics.v1_8_0. Every count is the
// platform's own (its ECC model counts what the memory controller
// reported, bus noise included): the BMC keeps no second tally that could
// disagree with the SEL, IPMI or a restart.
type memoryMetricsResource struct {
	odata
	ID            string               `json:"Id"`
	Name          string               `json:"Name"`
	Description   string               `json:"Description"`
	CurrentPeriod eccPeriod            `json:"CurrentPeriod"`
	LifeTime      eccPeriod            `json:"LifeTime"`
	HealthData    memoryHealthData     `json:"HealthData"`
	Actions       memoryMetricsActions `json:"Actions"`
}

type eccPeriod struct {
	CorrectableECCErrorCount   uint64 `json:"CorrectableECCErrorCount"`
	UncorrectableECCErrorCount uint64 `json:"UncorrectableECCErrorCount"`
}

type memoryHealthData struct {
	AlarmTrips memoryAlarmTrips `json:"AlarmTrips"`
}

// memoryAlarmTrips says which error alarms tripped in the current period.
type memoryAlarmTrips struct {
	CorrectableECCError   bool `json:"CorrectableECCError"`
	UncorrectableECCError bool `json:"UncorrectableECCError"`
}

type memoryMetricsActions struct {
	ClearCurrentPeriod actionTarget `json:"#MemoryMetrics.ClearCurrentPeriod"`
}

// seatedModule resolves the Memory member of a URI below it (entity
// MemoryMetrics or EnvironmentMetrics); only a seated module has them.
func seatedModule(r *request, entity string) (platform.Slot, error) {
	if err := lookupSystem(r); err != nil {
		return platform.Slot{}, err
	}
	id := r.param("memory")
	sl, ok := r.snap.Slot(id)
	if !ok {
		return platform.Slot{}, errResourceNotFound("Memory", id)
	}
	if sl.Module == nil {
		return platform.Slot{}, errResourceNotFound(entity, id)
	}
	return sl, nil
}

// memoryAlarms: the CE alarm trips when the firmware stopped logging the
// module's CEs (logging limit) or a rank crossed the CE threshold, not on
// the first CE, which ECC corrected as designed; the UE alarm trips on
// any UE. Both last until ClearCurrentPeriod.
func memoryAlarms(r *platform.Slot) memoryAlarmTrips {
	if r.RAS == nil {
		return memoryAlarmTrips{}
	}
	return memoryAlarmTrips{
		CorrectableECCError:   r.RAS.LoggingLimited || r.RAS.ThresholdTripped,
		UncorrectableECCError: r.RAS.Errors.Current.UE > 0,
	}
}

func (s *service) getMemoryMetrics(r *request) (any, error) {
	sl, err := seatedModule(r, "MemoryMetrics")
	if err != nil {
		return nil, err
	}
	var cur, life eccPeriod
	if sl.RAS != nil {
		e := sl.RAS.Errors
		cur = eccPeriod{CorrectableECCErrorCount: e.Current.CE, UncorrectableECCErrorCount: e.Current.UE}
		life = eccPeriod{CorrectableECCErrorCount: e.Lifetime.CE, UncorrectableECCErrorCount: e.Lifetime.UE}
	}
	return memoryMetricsResource{
		odata:         odata{ID: memoryMetricsPath(sl.Name), Type: typeMemoryMetrics},
		ID:            "MemoryMetrics",
		Name:          "Memory Metrics of " + sl.Name,
		Description:   "Error counts of the module in " + sl.Name + " as reported by the platform",
		CurrentPeriod: cur,
		LifeTime:      life,
		HealthData:    memoryHealthData{AlarmTrips: memoryAlarms(&sl)},
		Actions:       memoryMetricsActions{ClearCurrentPeriod: actionTarget{Target: memoryMetricsPath(sl.Name) + "/Actions/MemoryMetrics.ClearCurrentPeriod"}},
	}, nil
}

// postClearCurrentPeriod asks the platform to start a new counting period
// for the module: current counts and alarm trips go to zero, CE logging
// resumes, lifetime counts stay.
func (s *service) postClearCurrentPeriod(r *request) (*response, error) {
	sl, err := seatedModule(r, "MemoryMetrics")
	if err != nil {
		return nil, err
	}
	if len(r.body) > 0 {
		var in struct{}
		d, err := decodeBody(r.body, &in, nil)
		if err != nil {
			return nil, err
		}
		if len(d.problems) > 0 {
			return nil, failAll(d.problems)
		}
	}
	c, ok := s.platform.(errorCountClearer)
	if !ok {
		return nil, newAPIError(http.StatusBadRequest, "ActionNotSupported", "#MemoryMetrics.ClearCurrentPeriod")
	}
	if err := c.ClearMemoryErrorCounts(sl.Name); err != nil {
		if errors.Is(err, platform.ErrUnknownSlot) {
			return nil, errResourceNotFound("Memory", sl.Name)
		}
		return nil, fmt.Errorf("clear current period of %s: %w", sl.Name, err)
	}
	return &response{status: http.StatusNoContent}, nil
}
