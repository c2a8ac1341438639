package redfish

import "github.com/gin-gonic/gin"

// hostRoutes registers the host's resources beyond the ComputerSystem:
// boot options, BIOS, secure boot, virtual media and updates.
func (s *service) hostRoutes(e *gin.Engine) {
	s.handle(e, pathSystems+"/:system/BootOptions", resource{entity: "BootOptionCollection", get: s.getBootOptions})
	s.handle(e, pathSystems+"/:system/BootOptions/:option", resource{entity: "BootOption", get: s.getBootOption, patch: s.patchBootOption})
	s.handle(e, pathSystems+"/:system/Bios", resource{entity: "Bios", get: s.getBios, snapshotOnly: true})
	s.handle(e, pathSystems+"/:system/Bios/Settings", resource{entity: "Bios", get: s.getBiosSettings, patch: s.patchBiosSettings, snapshotOnly: true})
	s.handle(e, pathSystems+"/:system/Bios/Actions/Bios.ResetBios", resource{entity: "Bios", post: s.postResetBios})
	s.handle(e, pathSystems+"/:system/Bios/Actions/Bios.ChangePassword", resource{entity: "Bios", post: s.postChangeBiosPassword})
	s.handle(e, pathSystems+"/:system/SecureBoot", resource{entity: "SecureBoot", get: s.getSecureBoot, patch: s.patchSecureBoot, snapshotOnly: true})
	s.handle(e, pathSystems+"/:system/SecureBoot/Actions/SecureBoot.ResetKeys", resource{entity: "SecureBoot", post: s.postResetKeys})
	s.handle(e, pathSimpleUpdate, resource{entity: "UpdateService", post: s.postSimpleUpdate})
	s.handle(e, pathManagers+"/:manager/VirtualMedia", resource{entity: "VirtualMediaCollection", get: s.getVirtualMediaCollection})
	s.handle(e, pathManagers+"/:manager/VirtualMedia/:media", resource{entity: "VirtualMedia", get: s.getVirtualMedia, snapshotOnly: true})
	s.handle(e, pathManagers+"/:manager/VirtualMedia/:media/Actions/VirtualMedia.InsertMedia", resource{entity: "VirtualMedia", post: s.postInsertMedia})
	s.handle(e, pathManagers+"/:manager/VirtualMedia/:media/Actions/VirtualMedia.EjectMedia", resource{entity: "VirtualMedia", post: s.postEjectMedia})
}

// The privileges of the host's entities, as the DMTF privilege registry
// (Redfish_1.8.0_PrivilegeRegistry) gives them; TestPrivilegeMapMatchesRegistry
// holds them to it.
func init() {
	servedTypes = append(servedTypes, typeBootOptionCollection, typeBootOption, typeBios, typeAttributeRegistry, typeSecureBoot,
		typeVirtualMediaCollection, typeVirtualMedia)
	privilegeMap["VirtualMediaCollection"] = readLogin(privConfigureManager)
	privilegeMap["VirtualMedia"] = readLogin(privConfigureManager)
	for _, e := range []string{"BootOptionCollection", "BootOption", "Bios", "SecureBoot"} {
		privilegeMap[e] = readLogin(privConfigureComponents)
	}
}

// hostMetadataRefs are the $metadata references of the host's types.
var hostMetadataRefs = []struct{ file, namespaces string }{
	{"BootOptionCollection_v1.xml", "BootOptionCollection"},
	{"BootOption_v1.xml", "BootOption BootOption.v1_0_6"},
	{"Bios_v1.xml", "Bios Bios.v1_2_3"},
	{"Settings_v1.xml", "Settings Settings.v1_4_0"},
	{"AttributeRegistry_v1.xml", "AttributeRegistry AttributeRegistry.v1_4_0"},
	{"SecureBoot_v1.xml", "SecureBoot SecureBoot.v1_1_2"},
	{"VirtualMediaCollection_v1.xml", "VirtualMediaCollection"},
	{"VirtualMedia_v1.xml", "VirtualMedia VirtualMedia.v1_6_5"},
}
