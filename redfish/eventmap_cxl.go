package redfish

import (
	_ "embed"
	"encoding/json"

	"github.com/bmcemu/bmcemu/platform/events"
)

// The CXL expanders' hot-plug steps and the IOMMU's blocked DMA are the
// BmcemuCXL registry, beside BmcemuMemory and BmcemuHost: DSP8011 has no
// message for a device refused for want of a memory window, or for a
// DMA remapping fault. Each step also goes out as the DMTF ResourceEvent
// a client watching resources expects: the PCIe device and its Memory
// created when a card is seated, their state changes as it comes up or
// goes down, removed when it is pulled.
const (
	cxlRegistry = "BmcemuCXL.1.0.0"
	cxlPrefix   = "BmcemuCXL"
)

//go:embed registries/BmcemuCXL.1.0.0.json
var cxlRegistryJSON []byte

func init() {
	var reg registryDoc
	if err := json.Unmarshal(cxlRegistryJSON, &reg); err != nil {
		panic("redfish: embedded CXL registry: " + err.Error())
	}
	for k, m := range reg.Messages {
		eventMessages[reg.ID+"."+k] = registryMessage{severity: m.MessageSeverity, args: m.NumberOfArgs, text: m.Message, resolution: m.Resolution}
	}
	embeddedRegistries[cxlRegistry] = func(*service) []byte { return cxlRegistryJSON }
	servedRegistries = append(servedRegistries, cxlRegistry)
	eventRegistryPrefixes = append(eventRegistryPrefixes, cxlPrefix)
	eventResourceTypes = append(eventResourceTypes, "PCIeDevice")
}

func cxlEvent(name, origin string, args ...any) eventSpec {
	return eventSpec{id: cxlRegistry + "." + name, args: strArgs(args), origin: origin}
}

// translateCXL maps the CXL facts. OriginOfCondition is the slot's PCIe
// device for the device's own steps and its Memory for what happened to
// the memory; after a pull both name the resources that just went away,
// as ResourceRemoved does.
func translateCXL(e events.Event) ([]eventSpec, bool) {
	switch ev := e.(type) {
	case events.CXLDeviceChanged:
		dev, mem := pcieDevicePath(ev.Slot), memoryPath(ev.Slot)
		state := func(origin, to string) eventSpec {
			return dmtf(resourceEventRegistry, "ResourceStateChanged", origin, origin, to)
		}
		switch ev.Op {
		case "inserted":
			return []eventSpec{cxlEvent("ExpanderInserted", dev, ev.Slot),
				dmtf(resourceEventRegistry, "ResourceCreated", dev), dmtf(resourceEventRegistry, "ResourceCreated", mem)}, true
		case "enabled":
			return []eventSpec{cxlEvent("ExpanderEnabled", dev, ev.Slot, ev.Region, ev.Bytes, ev.Node),
				state(dev, "Enabled"), state(mem, "Enabled")}, true
		case "refused":
			return []eventSpec{cxlEvent("ExpanderRefused", dev, ev.Slot, ev.Reason),
				dmtf(resourceEventRegistry, "ResourceStatusChangedWarning", dev, dev, "Warning"),
				state(mem, "UnavailableOffline")}, true
		case "removal-refused":
			return []eventSpec{cxlEvent("ExpanderRemovalRefused", dev, ev.Slot, ev.Reason),
				dmtf(resourceEventRegistry, "ResourceStatusChangedWarning", dev, dev, "Warning")}, true
		case "disabled":
			return []eventSpec{cxlEvent("ExpanderDisabled", dev, ev.Slot),
				state(dev, "StandbyOffline"), state(mem, "StandbyOffline")}, true
		case "pulled":
			return []eventSpec{cxlEvent("ExpanderPulled", dev, ev.Slot),
				dmtf(resourceEventRegistry, "ResourceRemoved", dev), dmtf(resourceEventRegistry, "ResourceRemoved", mem)}, true
		case "surprise":
			return []eventSpec{cxlEvent("ExpanderSurpriseRemoval", dev, ev.Slot, ev.Poisoned, ev.Leaked),
				dmtf(resourceEventRegistry, "ResourceRemoved", dev), dmtf(resourceEventRegistry, "ResourceRemoved", mem)}, true
		}
		// An operation this table does not know yet: still about the
		// device, under its kind.
		return []eventSpec{oem("PlatformEvent", dev, e.Kind()+" "+ev.Op, ev.Slot)}, true
	case events.IOMMUFault:
		access := "read"
		if ev.Write {
			access = "write"
		}
		return []eventSpec{cxlEvent("DMABlocked", pcieDevicePath(ev.Slot), ev.Slot, ev.BDF, access, hex64(ev.Addr), ev.Reason)}, true
	}
	return nil, false
}
