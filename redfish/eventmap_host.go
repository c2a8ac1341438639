package redfish

import (
	"strings"

	"github.com/bmcemu/bmcemu/platform/events"
)

// translateHost maps the host's power and boot facts, all about the
// ComputerSystem. A restart is DMTF Platform's PlatformReset (its argument
// the kind of reset); a new boot stage or boot order changes the System
// (BootProgress, Boot); an OS shutting down for a power-off is the System
// powering off. What DSP8011 has no message for (a device that did not
// boot, the OS up, an NMI) is in the BmcemuHost registry.
func translateHost(e events.Event) ([]eventSpec, bool) {
	switch ev := e.(type) {
	case events.SystemRestarted:
		return []eventSpec{dmtf(platformRegistry, "PlatformReset", systemPath(), ev.Cause)}, true
	case events.BootProgressChanged, events.BootOrderChanged:
		return []eventSpec{dmtf(resourceEventRegistry, "ResourceChanged", systemPath())}, true
	case events.OSShutdown:
		if ev.Reboot {
			return []eventSpec{hostEvent("OSRestarting", systemPath())}, true
		}
		return []eventSpec{dmtf(resourceEventRegistry, "ResourcePoweringOff", systemPath(), systemPath())}, true
	case events.BootAttemptFailed:
		return []eventSpec{hostEvent("BootDeviceFailed", systemPath(), ev.Target, ev.Device, ev.Reason)}, true
	case events.NoBootableDevice:
		return []eventSpec{hostEvent("NoBootableDevice", systemPath(), strings.Join(ev.Tried, ", "))}, true
	case events.OSBootCompleted:
		return []eventSpec{hostEvent("OSBootCompleted", systemPath(), ev.Target, ev.Device)}, true
	case events.NMIRaised:
		return []eventSpec{hostEvent("NMIReceived", systemPath())}, true
	case events.BiosSettingsStaged:
		return []eventSpec{dmtf(resourceEventRegistry, "ResourceChanged", biosSettingsPath())}, true
	case events.BiosSettingsApplied:
		return []eventSpec{hostEvent("BiosSettingsApplied", biosPath(), strings.Join(ev.Attributes, ", "))}, true
	case events.VirtualMediaInserted:
		return []eventSpec{hostEvent("VirtualMediaInserted", virtualMediumPath(mediaID(ev.Device)), ev.Image, mediaID(ev.Device), ev.Size, ev.SHA256)}, true
	case events.VirtualMediaEjected:
		return []eventSpec{hostEvent("VirtualMediaEjected", virtualMediumPath(mediaID(ev.Device)), ev.Image, mediaID(ev.Device))}, true
	case events.FirmwareStaged:
		return []eventSpec{hostEvent("FirmwareStaged", firmwareOrigin(ev.Component), ev.Component, ev.Version)}, true
	case events.FirmwareActivated:
		return []eventSpec{hostEvent("FirmwareActivated", firmwareOrigin(ev.Component), ev.Component, ev.To, ev.From)}, true
	case events.SecureBootChanged:
		return []eventSpec{dmtf(resourceEventRegistry, "ResourceChanged", secureBootPath())}, true
	}
	return nil, false
}

// mediaID is the VirtualMedia id of a platform device.
func mediaID(device string) string {
	for _, d := range mediaDevices {
		if d.device == device {
			return d.id
		}
	}
	return device
}

// firmwareOrigin is what a component's firmware runs on: the System
// (BIOS) or the Manager (BMC).
func firmwareOrigin(component string) string {
	if component == "BMC" {
		return managerPath()
	}
	return systemPath()
}
