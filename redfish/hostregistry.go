package redfish

import (
	_ "embed"
	"encoding/json"
)

// The host's own messages (boot devices, the OS's state, BIOS settings
// applied, virtual media, firmware activation) are the BmcemuHost
// registry, beside BmcemuMemory: DSP8011 has no messages for them.
const (
	hostRegistry = "BmcemuHost.1.0.0"
	hostPrefix   = "BmcemuHost"
)

//go:embed registries/BmcemuHost.1.0.0.json
var hostRegistryJSON []byte

// hostDMTFMessages are the DMTF messages the host's facts use, verbatim
// from Platform.1.3.2 and ResourceEvent.1.4.3.
var hostDMTFMessages = map[string]registryMessage{
	platformRegistry + ".PlatformReset": {severity: "OK", args: 1,
		text: "A platform performed a '%1' type of reset.", resolution: "None."},
	resourceEventRegistry + ".ResourcePoweringOff": {severity: "OK", args: 1,
		text: "The resource '%1' is powering off.", resolution: "None."},
}

func init() {
	for k, v := range hostDMTFMessages {
		dmtfEventMessages[k] = v
		eventMessages[k] = v
	}
	var reg registryDoc
	if err := json.Unmarshal(hostRegistryJSON, &reg); err != nil {
		panic("redfish: embedded host registry: " + err.Error())
	}
	for k, m := range reg.Messages {
		eventMessages[reg.ID+"."+k] = registryMessage{severity: m.MessageSeverity, args: m.NumberOfArgs, text: m.Message, resolution: m.Resolution}
	}
	embeddedRegistries[hostRegistry] = func(*service) []byte { return hostRegistryJSON }
	embeddedRegistries[biosRegistry] = (*service).attributeRegistryJSON
	servedRegistries = append(servedRegistries, biosRegistry)
	servedRegistries = append(servedRegistries, hostRegistry)
	eventRegistryPrefixes = append(eventRegistryPrefixes, hostPrefix)
}

func hostEvent(name, origin string, args ...any) eventSpec {
	return eventSpec{id: hostRegistry + "." + name, args: strArgs(args), origin: origin}
}
