package redfish

import "github.com/gin-gonic/gin"

// hostRoutes registers the host's resources beyond the ComputerSystem:
// boot options, BIOS, secure boot, virtual media and updates.
func (s *service) hostRoutes(e *gin.Engine) {
	s.handle(e, pathSystems+"/:system/BootOptions", resource{entity: "BootOptionCollection", get: s.getBootOptions})
	s.handle(e, pathSystems+"/:system/BootOptions/:option", resource{entity: "BootOption", get: s.getBootOption, patch: s.patchBootOption})
}

// The privileges of the host's entities, as the DMTF privilege registry
// (Redfish_1.8.0_PrivilegeRegistry) gives them; TestPrivilegeMapMatchesRegistry
// holds them to it.
func init() {
	servedTypes = append(servedTypes, typeBootOptionCollection, typeBootOption)
	privilegeMap["BootOptionCollection"] = readLogin(privConfigureComponents)
	privilegeMap["BootOption"] = readLogin(privConfigureComponents)
}

// hostMetadataRefs are the $metadata references of the host's types.
var hostMetadataRefs = []struct{ file, namespaces string }{
	{"BootOptionCollection_v1.xml", "BootOptionCollection"},
	{"BootOption_v1.xml", "BootOption BootOption.v1_0_6"},
}
