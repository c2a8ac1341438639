package redfish

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/store"
)

// memoryMetricsFileName keeps the per-module error counters in StateDir.
const memoryMetricsFileName = "redfish-memory-metrics.json"

const typeMemoryMetrics = "#MemoryMetrics.v1_8_0.MemoryMetrics"

func memoryMetricsPath(slot string) string { return memoryPath(slot) + "/MemoryMetrics" }

// eccCounts are a module's error counts over one span.
type eccCounts struct {
	Correctable   uint64 `json:"correctable"`
	Uncorrectable uint64 `json:"uncorrectable"`
}

// moduleErrors is what the BMC has counted for the module in one slot.
// Serial ties the counts to the module: another module in the slot starts
// from zero, as its own SPD-identified part.
type moduleErrors struct {
	Serial   string    `json:"serial"`
	Current  eccCounts `json:"current_period"`
	Lifetime eccCounts `json:"lifetime"`
}

// memoryMetrics counts the correctable and uncorrectable errors the
// platform reports per slot. Both spans are kept in StateDir when set:
// the current period lasts until ClearCurrentPeriod, not until a BMC
// restart.
type memoryMetrics struct {
	mu    sync.Mutex
	slots map[string]*moduleErrors
	file  *store.JSON
	log   *slog.Logger
}

type memoryMetricsFile struct {
	Slots map[string]*moduleErrors `json:"slots"`
}

func newMemoryMetrics(stateDir string, log *slog.Logger) (*memoryMetrics, error) {
	m := &memoryMetrics{slots: map[string]*moduleErrors{}, log: log}
	if stateDir == "" {
		return m, nil
	}
	m.file = &store.JSON{Path: filepath.Join(stateDir, memoryMetricsFileName)}
	var f memoryMetricsFile
	switch err := m.file.Load(&f); {
	case errors.Is(err, store.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("redfish: memory metrics: %w", err)
	default:
		for k, v := range f.Slots {
			if v != nil {
				m.slots[k] = v
			}
		}
	}
	return m, nil
}

// errorHits lists the per-slot error counts a platform event reports.
// Later RAS events add their cases here.
func errorHits(e events.Event) []events.NoiseHit {
	switch ev := e.(type) {
	case events.BusNoise:
		return ev.Victims
	case *events.BusNoise:
		if ev != nil {
			return ev.Victims
		}
	}
	return nil
}

// observe adds the errors an event reports to the modules now in the
// slots it names.
func (m *memoryMetrics) observe(e events.Event, snap *platform.Snapshot) {
	hits := errorHits(e)
	if len(hits) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	for _, h := range hits {
		if h.Correctable <= 0 && h.Uncorrectable <= 0 {
			continue
		}
		sl, ok := snap.Slot(h.Slot)
		if !ok || sl.Module == nil {
			continue
		}
		me := m.entryLocked(h.Slot, sl.Module.SPD.SerialNumber)
		ce, ue := uint64(max(h.Correctable, 0)), uint64(max(h.Uncorrectable, 0))
		me.Current.Correctable += ce
		me.Current.Uncorrectable += ue
		me.Lifetime.Correctable += ce
		me.Lifetime.Uncorrectable += ue
		changed = true
	}
	if changed {
		m.saveLocked()
	}
}

// entryLocked returns the counters of the module with serial in slot,
// starting them afresh when another module was counted there before.
func (m *memoryMetrics) entryLocked(slot, serial string) *moduleErrors {
	me, ok := m.slots[slot]
	if !ok || me.Serial != serial {
		me = &moduleErrors{Serial: serial}
		m.slots[slot] = me
	}
	return me
}

// counts returns the counters of the module with serial in slot.
func (m *memoryMetrics) counts(slot, serial string) moduleErrors {
	m.mu.Lock()
	defer m.mu.Unlock()
	if me, ok := m.slots[slot]; ok && me.Serial == serial {
		return *me
	}
	return moduleErrors{Serial: serial}
}

// clearCurrent starts a new current period for the module in slot.
func (m *memoryMetrics) clearCurrent(slot, serial string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	me := m.entryLocked(slot, serial)
	me.Current = eccCounts{}
	return m.saveLocked()
}

func (m *memoryMetrics) saveLocked() error {
	if m.file == nil {
		return nil
	}
	if err := m.file.Save(memoryMetricsFile{Slots: m.slots}); err != nil {
		m.log.Error("redfish: save memory metrics", "err", err)
		return err
	}
	return nil
}

// memoryMetricsResource is MemoryMetrics.v1_8_0.
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

func (s *service) getMemoryMetrics(r *request) (any, error) {
	sl, err := seatedModule(r, "MemoryMetrics")
	if err != nil {
		return nil, err
	}
	c := s.metrics.counts(sl.Name, sl.Module.SPD.SerialNumber)
	return memoryMetricsResource{
		odata:       odata{ID: memoryMetricsPath(sl.Name), Type: typeMemoryMetrics},
		ID:          "MemoryMetrics",
		Name:        "Memory Metrics of " + sl.Name,
		Description: "Error counts of the module in " + sl.Name + " as reported by the platform",
		CurrentPeriod: eccPeriod{
			CorrectableECCErrorCount: c.Current.Correctable, UncorrectableECCErrorCount: c.Current.Uncorrectable,
		},
		LifeTime: eccPeriod{
			CorrectableECCErrorCount: c.Lifetime.Correctable, UncorrectableECCErrorCount: c.Lifetime.Uncorrectable,
		},
		HealthData: memoryHealthData{AlarmTrips: memoryAlarmTrips{
			CorrectableECCError: c.Current.Correctable > 0, UncorrectableECCError: c.Current.Uncorrectable > 0,
		}},
		Actions: memoryMetricsActions{ClearCurrentPeriod: actionTarget{Target: memoryMetricsPath(sl.Name) + "/Actions/MemoryMetrics.ClearCurrentPeriod"}},
	}, nil
}

// postClearCurrentPeriod zeroes the current period's counts and alarm
// trips; the lifetime counts stay.
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
	if err := s.metrics.clearCurrent(sl.Name, sl.Module.SPD.SerialNumber); err != nil {
		return nil, fmt.Errorf("clear current period of %s: %w", sl.Name, err)
	}
	return &response{status: http.StatusNoContent}, nil
}
