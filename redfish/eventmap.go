package redfish

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/bmcemu/bmcemu/platform/events"
)

// Registries events are drawn from. The OEM registry's minor version
// moves when messages are added (DSP0266 registry versioning).
const (
	resourceEventRegistry = "ResourceEvent.1.4.3"
	platformRegistry      = "Platform.1.3.2"
	oemRegistry           = "BmcemuMemory.1.1.0"
	oemPrefix             = "BmcemuMemory"
)

//go:embed registries/BmcemuMemory.1.1.0.json
var oemRegistryJSON []byte

// dmtfEventMessages are the DMTF messages the service emits, copied
// verbatim from ResourceEvent.1.4.3 and Platform.1.3.2 (held to the files by
// TestEventMessagesMatchRegistries), keyed by full MessageId.
var dmtfEventMessages = map[string]registryMessage{
	resourceEventRegistry + ".ResourceStateChanged": {severity: "OK", args: 2,
		text: "The state of resource '%1' has changed to %2.", resolution: "None."},
	resourceEventRegistry + ".ResourceStatusChangedOK": {severity: "OK", args: 2,
		text: "The health of resource '%1' has changed to %2.", resolution: "None."},
	resourceEventRegistry + ".ResourceStatusChangedWarning": {severity: "Warning", args: 2,
		text: "The health of resource '%1' has changed to %2.", resolution: "None."},
	resourceEventRegistry + ".ResourceStatusChangedCritical": {severity: "Critical", args: 2,
		text: "The health of resource '%1' has changed to %2.", resolution: "None."},
	resourceEventRegistry + ".ResourceErrorsDetected": {severity: "Warning", args: 2,
		text: "The resource property %1 has detected errors of type '%2'.", resolution: "Resolution is dependent upon error type."},
	resourceEventRegistry + ".ResourceErrorsCorrected": {severity: "OK", args: 2,
		text: "The resource property %1 has corrected errors of type '%2'.", resolution: "None."},
	resourceEventRegistry + ".ResourcePoweredOn": {severity: "OK", args: 1,
		text: "The resource '%1' has powered on.", resolution: "None."},
	resourceEventRegistry + ".ResourcePoweredOff": {severity: "OK", args: 1,
		text: "The resource '%1' has powered off.", resolution: "None."},
	resourceEventRegistry + ".ResourceChanged": {severity: "OK", args: 0,
		text: "One or more resource properties have changed.", resolution: "None."},
	resourceEventRegistry + ".ResourceCreated": {severity: "OK", args: 0,
		text: "The resource was created successfully.", resolution: "None."},
	resourceEventRegistry + ".ResourceRemoved": {severity: "OK", args: 0,
		text: "The resource was removed successfully.", resolution: "None."},
	resourceEventRegistry + ".TestMessage": {severity: "OK", args: 0,
		text: "Test message.", resolution: "None."},
	platformRegistry + ".MemoryUncorrectableError": {severity: "Critical", args: 1,
		text:       "Memory device '%1' detected an uncorrectable error.",
		resolution: "Check additional diagnostic data if available.  Check the platform and connectors for any faults."},
	platformRegistry + ".MemoryContainedError": {severity: "Warning", args: 1,
		text:       "Memory device '%1' contained an uncorrectable error.",
		resolution: "Check additional diagnostic data if available.  Check the platform and connectors for any faults."},
	resourceEventRegistry + ".ResourceErrorThresholdExceeded": {severity: "Critical", args: 2,
		text: "The resource property %1 has exceeded error threshold of value %2.", resolution: "None."},
	platformRegistry + ".DeviceDisabled": {severity: "Warning", args: 1,
		text: "Device '%1' was disabled or halted.", resolution: "Check additional diagnostic data if available."},
}

// registryDoc is the part of a MessageRegistry the service reads.
type registryDoc struct {
	ID             string `json:"Id"`
	RegistryPrefix string `json:"RegistryPrefix"`
	Messages       map[string]struct {
		Message         string
		MessageSeverity string
		NumberOfArgs    int
		Resolution      string
	} `json:"Messages"`
}

// eventMessages is every message an event can carry, by full MessageId.
var eventMessages = func() map[string]registryMessage {
	out := map[string]registryMessage{}
	for k, v := range dmtfEventMessages {
		out[k] = v
	}
	var reg registryDoc
	if err := json.Unmarshal(oemRegistryJSON, &reg); err != nil {
		panic("redfish: embedded OEM registry: " + err.Error())
	}
	for k, m := range reg.Messages {
		out[reg.ID+"."+k] = registryMessage{severity: m.MessageSeverity, args: m.NumberOfArgs, text: m.Message, resolution: m.Resolution}
	}
	return out
}()

// eventSpec is one Redfish event a platform fact produces.
type eventSpec struct {
	id     string // full MessageId
	args   []string
	origin string // @odata.id of the OriginOfCondition, "" for none
	// text and severity stand in for a message of no known registry
	// (SubmitTestEvent).
	text     *string
	severity string
}

func oem(name string, origin string, args ...any) eventSpec {
	return eventSpec{id: oemRegistry + "." + name, args: strArgs(args), origin: origin}
}

func dmtf(reg, name, origin string, args ...any) eventSpec {
	return eventSpec{id: reg + "." + name, args: strArgs(args), origin: origin}
}

func strArgs(a []any) []string {
	out := make([]string, len(a))
	for i, v := range a {
		switch v := v.(type) {
		case string:
			out[i] = v
		case bool:
			out[i] = strconv.FormatBool(v)
		default:
			out[i] = fmt.Sprint(v)
		}
	}
	return out
}

func hex64(v uint64) string { return fmt.Sprintf("0x%X", v) }

func onOff(on bool) string {
	if on {
		return "On"
	}
	return "Off"
}

// translate maps a platform fact to Redfish events: DMTF messages where
// DSP8011 has one (resource state and health, uncorrectable errors,
// disabled devices), the project's BmcemuMemory registry for the hot-plug
// steps DMTF does not name. Every slot event's OriginOfCondition is the
// slot's Memory member, which exists whether or not a module is seated.
func translate(e events.Event) []eventSpec {
	mem := memoryPath
	switch ev := e.(type) {
	case events.ModuleInserted:
		return []eventSpec{dmtf(resourceEventRegistry, "ResourceStateChanged", mem(ev.Slot), mem(ev.Slot), "Enabled")}
	case events.ModuleRemoved:
		return []eventSpec{dmtf(resourceEventRegistry, "ResourceStateChanged", mem(ev.Slot), mem(ev.Slot), "Absent")}
	case events.PowerChanged:
		name := "ResourcePoweredOff"
		if ev.On {
			name = "ResourcePoweredOn"
		}
		return []eventSpec{dmtf(resourceEventRegistry, name, systemPath(), systemPath())}
	case events.LocationIndicatorChanged:
		return []eventSpec{oem("LocationIndicatorChanged", mem(ev.Slot), ev.Slot, onOff(ev.On))}
	case events.ChassisIdentifyChanged:
		return []eventSpec{dmtf(resourceEventRegistry, "ResourceChanged", chassisPath())}
	case events.BootOverrideChanged:
		// The System's Boot changed, whether a client set it (through
		// either surface) or the host's boot consumed a Once override.
		return []eventSpec{dmtf(resourceEventRegistry, "ResourceChanged", systemPath())}
	case events.AttentionPressed:
		return []eventSpec{oem("HotPlugAttentionPressed", mem(ev.Slot), ev.Slot, ev.Intent)}
	case events.AttentionIndicatorChanged:
		return []eventSpec{oem("AttentionIndicatorChanged", mem(ev.Slot), ev.Slot, ev.State)}
	case events.SlotPowerChanged:
		return []eventSpec{oem("SlotPowerChanged", mem(ev.Slot), ev.Slot, ev.State, ev.MilliVolts)}
	case events.SlotLatchChanged:
		state := "closed"
		if ev.Open {
			state = "open"
		}
		return []eventSpec{oem("SlotLatchChanged", mem(ev.Slot), ev.Slot, state)}
	case events.SlotPresenceChanged:
		state := "absent"
		if ev.Present {
			state = "present"
		}
		return []eventSpec{oem("ModulePresenceChanged", mem(ev.Slot), ev.Slot, state, ev.Isolated)}
	case events.SlotReady:
		if ev.For == "removal" {
			return []eventSpec{oem("SlotReadyForRemoval", mem(ev.Slot), ev.Slot)}
		}
		return []eventSpec{oem("SlotReadyForInstallation", mem(ev.Slot), ev.Slot)}
	case events.SPDAccepted:
		return []eventSpec{oem("SPDAccepted", mem(ev.Slot), ev.Slot, ev.OperatingSpeedMTs)}
	case events.SPDCheckFailed:
		return []eventSpec{
			oem("SPDCheckFailed", mem(ev.Slot), ev.Slot, ev.Reason, ev.Detail),
			dmtf(resourceEventRegistry, "ResourceStatusChangedCritical", mem(ev.Slot), mem(ev.Slot), "Critical"),
		}
	case events.BusNoise:
		out := []eventSpec{oem("BusNoiseDetected", mem(ev.Slot), ev.Slot, ev.Socket, ev.Channel, len(ev.Victims))}
		for _, v := range ev.Victims {
			if v.Correctable > 0 {
				out = append(out, dmtf(resourceEventRegistry, "ResourceErrorsDetected", mem(v.Slot),
					"CorrectableECCErrorCount", "CorrectableECC"))
			}
			if v.Uncorrectable > 0 {
				out = append(out, dmtf(platformRegistry, "MemoryUncorrectableError", mem(v.Slot), v.Slot))
			}
		}
		return out
	case events.BusNoiseRecovered:
		// The recovery is about the slot whose handling made the noise, as
		// BusNoiseDetected was; a fact without one is about the System.
		origin := systemPath()
		if ev.Slot != "" {
			origin = mem(ev.Slot)
		}
		out := []eventSpec{oem("BusNoiseRecovered", origin, ev.Socket, ev.Channel)}
		for _, v := range ev.Victims {
			out = append(out, dmtf(resourceEventRegistry, "ResourceErrorsCorrected", mem(v), "CorrectableECCErrorCount", "CorrectableECC"))
		}
		return out
	case events.SCIRaised:
		return []eventSpec{oem("SCIRaised", mem(ev.Slot), ev.Slot, ev.GPE, ev.Method, ev.Cause)}
	case events.SurpriseRemoval:
		return []eventSpec{oem("SurpriseRemoval", mem(ev.Slot), ev.Slot, ev.PowerState)}
	case events.MemoryTrained:
		return []eventSpec{oem("MemoryTrained", mem(ev.Slot), ev.Slot, ev.SpeedMTs, ev.MinEyePS)}
	case events.TrainingFailed:
		return []eventSpec{
			oem("TrainingFailed", mem(ev.Slot), ev.Slot, ev.Stage, ev.Reason),
			dmtf(resourceEventRegistry, "ResourceStatusChangedCritical", mem(ev.Slot), mem(ev.Slot), "Critical"),
		}
	case events.FirmwareFault:
		return []eventSpec{
			oem("FirmwareFault", mem(ev.Slot), ev.Slot, ev.Fault, ev.Reason),
			dmtf(resourceEventRegistry, "ResourceStatusChangedCritical", mem(ev.Slot), mem(ev.Slot), "Critical"),
		}
	case events.ModuleParked:
		return []eventSpec{
			oem("ModuleParked", mem(ev.Slot), ev.Slot, ev.Serial, ev.Reason),
			dmtf(platformRegistry, "DeviceDisabled", mem(ev.Slot), ev.Slot),
		}
	case events.AddressMapUpdated:
		return []eventSpec{oem("AddressMapUpdated", mem(ev.Slot), ev.Socket, ev.Op, ev.Slot, hex64(ev.Base), hex64(ev.Length))}
	case events.AddressMapRejected:
		return []eventSpec{oem("AddressMapRejected", mem(ev.Slot), ev.Slot, ev.Reason)}
	case events.InterleaveChanged:
		state := "off"
		if ev.Interleaved {
			state = "on"
		}
		// Interleaving is a property of the memory domain, not of a module.
		return []eventSpec{oem("InterleaveChanged", memoryDomainPath(), ev.Socket, ev.Controller, state, ev.Reason)}
	case events.PatternTestCompleted:
		if ev.Passed {
			return []eventSpec{oem("PatternTestPassed", mem(ev.Slot), ev.Slot, ev.Samples)}
		}
		return []eventSpec{oem("PatternTestFailed", mem(ev.Slot), ev.Slot, hex64(ev.Address))}
	case events.ACPINotify:
		return []eventSpec{oem("ACPINotify", mem(ev.Slot), ev.Slot, ev.Name)}
	case events.ACPIOST:
		return []eventSpec{oem("OSPMStatus", mem(ev.Slot), ev.Slot, ev.Meaning)}
	case events.MemoryHotAdded:
		return []eventSpec{
			oem("MemoryHotAdded", mem(ev.Slot), ev.Slot, ev.Node, hex64(ev.Base), hex64(ev.Length)),
			dmtf(resourceEventRegistry, "ResourceStateChanged", mem(ev.Slot), mem(ev.Slot), "Enabled"),
		}
	case events.KernelPagesMigrated:
		return []eventSpec{oem("KernelPagesMigrated", mem(ev.Slot), ev.Slot, ev.Pages, ev.Movable, ev.Node, ev.Unmovable)}
	case events.MemoryEjected:
		return []eventSpec{
			oem("MemoryEjected", mem(ev.Slot), ev.Slot, ev.Node, hex64(ev.Base), hex64(ev.Length)),
			dmtf(resourceEventRegistry, "ResourceStateChanged", mem(ev.Slot), mem(ev.Slot), "Disabled"),
		}
	case events.EjectFailed:
		return []eventSpec{oem("EjectFailed", mem(ev.Slot), ev.Slot, ev.Reason)}
	case events.FirmwareTimeout:
		return []eventSpec{oem("FirmwareTimeout", mem(ev.Slot), ev.Slot, ev.Stage)}
	case events.GuestMemoryChanged:
		// A VM guest's device changed size: its Memory resource; the
		// balloon has none, it changes the system's MemorySummary.
		origin := systemPath()
		switch ev.Device {
		case "virtio-mem":
			origin = mem(guestMemoryID)
		case "pc-dimm":
			origin = mem(ev.ID)
		}
		return []eventSpec{dmtf(resourceEventRegistry, "ResourceChanged", origin)}
	}
	if specs, ok := translateRAS(e); ok {
		return specs
	}
	if specs, ok := translateHost(e); ok {
		return specs
	}
	if specs, ok := translateCXL(e); ok {
		return specs
	}
	// A fact this table does not know yet (the platform grows): still an
	// event, named by its kind, about its slot when it has one.
	slot := events.SlotOf(e)
	// Every event names an origin: a subscriber filtering by
	// OriginResources must be able to see it.
	origin, what := systemPath(), "the platform"
	if slot != "" {
		origin, what = memoryPath(slot), slot
	}
	return []eventSpec{oem("PlatformEvent", origin, e.Kind(), what)}
}
