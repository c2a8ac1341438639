package redfish

import (
	"github.com/bmcemu/bmcemu/platform/events"
)

// rebuildOps names the copies the memory controller runs, for messages.
var rebuildOps = map[string]string{
	"spare-copy": "spare copy",
	"resilver":   "mirror re-silver",
	"rebuild":    "RAID rebuild",
}

func rebuildOp(op string) string {
	if s, ok := rebuildOps[op]; ok {
		return s
	}
	return op
}

// redundancyMessages: the OEM message and the DMTF health change for each
// redundancy state of a set.
var redundancyMessages = map[string]struct{ oem, dmtf string }{
	events.FullyRedundant:     {"RedundancyFull", "ResourceStatusChangedOK"},
	events.RedundancyDegraded: {"RedundancyDegraded", "ResourceStatusChangedWarning"},
	events.RedundancyLost:     {"RedundancyLost", "ResourceStatusChangedWarning"},
	events.NonRedundant:       {"RedundancyNonRedundant", "ResourceStatusChangedCritical"},
}

// redundancyWords put a redundancy state into a message.
var redundancyWords = map[string]string{
	events.FullyRedundant: "full", events.RedundancyDegraded: "degraded", events.RedundancyLost: "lost",
	events.NonRedundant: "non-redundant", "": "none",
}

// translateRAS maps the memory RAS facts. DMTF messages carry what a
// generic client understands (errors corrected, a threshold crossed, an
// uncorrectable error contained or not, a resource's health); the
// BmcemuMemory registry carries the mode's own steps (spare copies,
// mirror and RAID rebuilds, redundancy, data loss). A module's events
// originate at its Memory member; a redundant set's at its MemoryChunk;
// boot-time and unplaced facts at the memory domain.
func translateRAS(e events.Event) ([]eventSpec, bool) {
	mem := memoryPath
	switch ev := e.(type) {
	case events.RASModeApplied:
		if ev.ConfigError != "" {
			return []eventSpec{oem("RASModeFallback", memoryDomainPath(), ev.Requested, ev.ConfigError, ev.Mode)}, true
		}
		return []eventSpec{oem("RASModeApplied", memoryDomainPath(), ev.Mode, ev.UsableBytes>>20, ev.RawBytes>>20)}, true
	case events.MemoryCorrectableError:
		return []eventSpec{dmtf(resourceEventRegistry, "ResourceErrorsCorrected", mem(ev.Slot), "CorrectableECCErrorCount", "CorrectableECC")}, true
	case events.MemoryCEThresholdExceeded:
		return []eventSpec{dmtf(resourceEventRegistry, "ResourceErrorThresholdExceeded", mem(ev.Slot), "CorrectableECCErrorCount", ev.Level)}, true
	case events.MemoryCELoggingLimit:
		return []eventSpec{oem("CorrectableErrorLoggingLimit", mem(ev.Slot), ev.Slot)}, true
	case events.MemoryUncorrectableError:
		// Recovered: a mirror copy or RAID parity supplied the data, which
		// is what DSP8011 calls a contained error.
		if ev.Recovered {
			return []eventSpec{dmtf(platformRegistry, "MemoryContainedError", mem(ev.Slot), ev.Slot)}, true
		}
		// Unrecovered, the module is Critical until serviced or its
		// counters cleared (the platform's UnprotectedUE).
		return []eventSpec{
			dmtf(platformRegistry, "MemoryUncorrectableError", mem(ev.Slot), ev.Slot),
			dmtf(resourceEventRegistry, "ResourceStatusChangedCritical", mem(ev.Slot), mem(ev.Slot), "Critical"),
		}, true
	case events.MemoryDataLost:
		origin, where := memoryDomainPath(), "the system memory"
		if ev.Slot != "" {
			origin, where = mem(ev.Slot), ev.Slot
		}
		return []eventSpec{oem("DataLost", origin, where, ev.Pages, hex64(ev.Address), ev.Reason)}, true
	case events.MemorySpareActivated:
		return []eventSpec{oem("SpareActivated", mem(ev.Slot), ev.Slot, ev.Rank, ev.SpareSlot, ev.SpareRank, ev.Pages)}, true
	case events.MemoryModuleMappedOut:
		if ev.Rank < 0 {
			return []eventSpec{
				oem("ModuleMappedOut", mem(ev.Slot), ev.Slot, ev.Reason),
				dmtf(resourceEventRegistry, "ResourceStatusChangedCritical", mem(ev.Slot), mem(ev.Slot), "Critical"),
			}, true
		}
		return []eventSpec{
			oem("RankMappedOut", mem(ev.Slot), ev.Slot, ev.Rank, ev.Reason),
			dmtf(resourceEventRegistry, "ResourceStatusChangedWarning", mem(ev.Slot), mem(ev.Slot), "Warning"),
		}, true
	case events.MemoryRebuildStarted:
		return []eventSpec{oem("RebuildStarted", mem(ev.Slot), ev.Slot, rebuildOp(ev.Op), ev.Set, ev.Total)}, true
	case events.MemoryRebuildProgress:
		return []eventSpec{oem("RebuildProgress", mem(ev.Slot), ev.Slot, rebuildOp(ev.Op), ev.Percent)}, true
	case events.MemoryRebuildCompleted:
		return []eventSpec{oem("RebuildCompleted", mem(ev.Slot), ev.Slot, rebuildOp(ev.Op), ev.Pages)}, true
	case events.MemoryRebuildAborted:
		return []eventSpec{oem("RebuildAborted", mem(ev.Slot), ev.Slot, rebuildOp(ev.Op), ev.Done, ev.Total, ev.Reason)}, true
	case events.MemoryRedundancyChanged:
		chunk := memoryChunkPath(ev.Set)
		msgs, ok := redundancyMessages[ev.State]
		if !ok {
			return nil, false
		}
		return []eventSpec{
			oem(msgs.oem, chunk, ev.Set, redundancyWords[ev.Overall]),
			dmtf(resourceEventRegistry, msgs.dmtf, chunk, chunk, redundancyHealth(ev.State)),
		}, true
	case events.RASModePending:
		return []eventSpec{oem("RASModePending", memoryDomainPath(), ev.Mode)}, true
	case events.MemoryCapacityExpanded:
		return []eventSpec{oem("CapacityExpanded", memoryChunkPath(ev.Set), ev.Set, ev.UsableBytes>>20, ev.Reason)}, true
	case events.MemoryAwaitingPartner:
		return []eventSpec{oem("AwaitingPartner", mem(ev.Slot), ev.Slot, ev.Reason)}, true
	case events.MemoryReplaceRefused:
		return []eventSpec{oem("ReplacementRefused", mem(ev.Slot), ev.Slot, ev.Reason)}, true
	}
	return nil, false
}
