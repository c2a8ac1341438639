package redfish

import "slices"

// Privileges of DSP0266 clause 13.2 and DMTF's base privilege registry
// (Redfish_1.8.0_PrivilegeRegistry). NoAuth marks an operation anyone may
// perform.
const (
	privLogin               = "Login"
	privConfigureManager    = "ConfigureManager"
	privConfigureUsers      = "ConfigureUsers"
	privConfigureSelf       = "ConfigureSelf"
	privConfigureComponents = "ConfigureComponents"
	privNoAuth              = "NoAuth"
)

// rolePrivileges are the AssignedPrivileges of the predefined roles.
func rolePrivileges(role string) []string {
	switch role {
	case RoleAdministrator:
		return []string{privLogin, privConfigureManager, privConfigureUsers, privConfigureSelf, privConfigureComponents}
	case RoleOperator:
		return []string{privLogin, privConfigureSelf, privConfigureComponents}
	case RoleReadOnly:
		return []string{privLogin, privConfigureSelf}
	}
	return nil
}

// operationMap is, per HTTP method, a list of alternatives each of which
// lists privileges that must all be held.
type operationMap map[string][][]string

func any1(privs ...string) [][]string {
	out := make([][]string, len(privs))
	for i, p := range privs {
		out[i] = []string{p}
	}
	return out
}

// readLogin is the common shape: reading needs Login, every write needs
// one of writers.
func readLogin(writers ...string) operationMap {
	w := any1(writers...)
	return operationMap{
		"GET": any1(privLogin), "HEAD": any1(privLogin),
		"PATCH": w, "PUT": w, "POST": w, "DELETE": w,
	}
}

// privilegeMap mirrors the registry's OperationMap for every entity the
// service serves; TestPrivilegeMapMatchesRegistry holds it to the file.
// The ManagerAccount Password property override (ConfigureSelf may PATCH
// its own Password) is applied by the account handler.
var privilegeMap = map[string]operationMap{
	"ServiceRoot": {
		"GET": any1(privLogin, privNoAuth), "HEAD": any1(privLogin, privNoAuth),
		"PATCH": any1(privConfigureManager), "PUT": any1(privConfigureManager),
		"POST": any1(privConfigureManager), "DELETE": any1(privConfigureManager),
	},
	"ComputerSystemCollection":   readLogin(privConfigureComponents),
	"ComputerSystem":             readLogin(privConfigureComponents),
	"MemoryCollection":           readLogin(privConfigureComponents),
	"Memory":                     readLogin(privConfigureComponents),
	"MemoryMetrics":              readLogin(privConfigureComponents),
	"EnvironmentMetrics":         readLogin(privConfigureManager),
	"SensorCollection":           readLogin(privConfigureComponents),
	"Sensor":                     readLogin(privConfigureComponents),
	"MemoryDomainCollection":     readLogin(privConfigureComponents),
	"MemoryDomain":               readLogin(privConfigureComponents),
	"MemoryChunksCollection":     readLogin(privConfigureComponents),
	"MemoryChunks":               readLogin(privConfigureComponents),
	"ChassisCollection":          readLogin(privConfigureComponents),
	"PCIeDeviceCollection":       readLogin(privConfigureComponents),
	"PCIeDevice":                 readLogin(privConfigureComponents),
	"PCIeFunctionCollection":     readLogin(privConfigureComponents),
	"PCIeFunction":               readLogin(privConfigureComponents),
	"CXLLogicalDeviceCollection": readLogin(privConfigureComponents),
	"CXLLogicalDevice":           readLogin(privConfigureComponents),
	"MemoryRegionCollection":     readLogin(privConfigureComponents),
	"MemoryRegion":               readLogin(privConfigureComponents),
	"Chassis":                    readLogin(privConfigureComponents),
	"ManagerCollection":          readLogin(privConfigureManager),
	"Manager":                    readLogin(privConfigureManager),
	"SessionService":             readLogin(privConfigureManager),
	"SessionCollection": {
		"GET": any1(privLogin), "HEAD": any1(privLogin),
		"PATCH": any1(privConfigureManager), "PUT": any1(privConfigureManager),
		"POST": any1(privLogin), "DELETE": any1(privConfigureManager),
	},
	"Session": {
		"GET": any1(privConfigureManager, privConfigureSelf), "HEAD": any1(privConfigureManager, privConfigureSelf),
		"PATCH": any1(privConfigureManager), "PUT": any1(privConfigureManager),
		"POST": any1(privConfigureManager), "DELETE": any1(privConfigureManager, privConfigureSelf),
	},
	"AccountService":           readLogin(privConfigureUsers),
	"ManagerAccountCollection": readLogin(privConfigureUsers),
	"ManagerAccount": {
		"GET": any1(privConfigureManager, privConfigureUsers, privConfigureSelf), "HEAD": any1(privLogin),
		"PATCH": any1(privConfigureUsers), "PUT": any1(privConfigureUsers),
		"POST": any1(privConfigureUsers), "DELETE": any1(privConfigureUsers),
	},
	"RoleCollection":                readLogin(privConfigureManager),
	"Role":                          readLogin(privConfigureManager),
	"EventService":                  readLogin(privConfigureManager),
	"EventDestinationCollection":    readLogin(privConfigureManager, privConfigureComponents),
	"MessageRegistryFileCollection": readLogin(privConfigureManager),
	"MessageRegistryFile":           readLogin(privConfigureManager),
	"JsonSchemaFileCollection":      readLogin(privConfigureManager),
	"JsonSchemaFile":                readLogin(privConfigureManager),
	"LogServiceCollection":          readLogin(privConfigureManager),
	"LogService":                    readLogin(privConfigureManager),
	"LogEntryCollection":            readLogin(privConfigureManager),
	"LogEntry":                      readLogin(privConfigureManager),
	"TaskService":                   readLogin(privConfigureManager),
	"ProcessorCollection":           readLogin(privConfigureComponents),
	"Processor":                     readLogin(privConfigureComponents),
	"EthernetInterfaceCollection":   readLogin(privConfigureComponents),
	"EthernetInterface":             readLogin(privConfigureComponents),
	"StorageCollection":             readLogin(privConfigureComponents),
	"Storage":                       readLogin(privConfigureComponents),
	"StorageControllerCollection":   readLogin(privConfigureComponents),
	"StorageController":             readLogin(privConfigureComponents),
	"Drive":                         readLogin(privConfigureComponents),
	"VolumeCollection":              readLogin(privConfigureComponents),
	"Volume":                        readLogin(privConfigureComponents),
	"SimpleStorageCollection":       readLogin(privConfigureComponents),
	"SimpleStorage":                 readLogin(privConfigureComponents),
	"Power":                         readLogin(privConfigureManager),
	"Thermal":                       readLogin(privConfigureManager),
	"ManagerNetworkProtocol":        readLogin(privConfigureManager),
	"UpdateService":                 readLogin(privConfigureComponents),
	"SoftwareInventoryCollection":   readLogin(privConfigureComponents),
	"SoftwareInventory":             readLogin(privConfigureComponents),
	"TaskCollection":                readLogin(privConfigureManager),
	"Task":                          readLogin(privConfigureManager),
	"EventDestination": {
		"GET": any1(privLogin), "HEAD": any1(privLogin),
		"PATCH": any1(privConfigureManager, privConfigureSelf), "PUT": any1(privConfigureManager, privConfigureSelf),
		"POST": any1(privConfigureManager, privConfigureSelf), "DELETE": any1(privConfigureManager, privConfigureSelf),
	},
}

// subordinateOverrides are the registry's SubordinateOverrides for the
// entities served below another: keyed by the Targets chain then the
// entity, they replace the methods they name. Logs of a ComputerSystem
// and a module's EnvironmentMetrics are managed with ConfigureComponents,
// not ConfigureManager.
var subordinateOverrides = map[string]operationMap{
	"Memory/EnvironmentMetrics":                                                  writeOnly(privConfigureComponents),
	"Manager/EthernetInterfaceCollection":                                        writeOnly(privConfigureManager),
	"Manager/EthernetInterfaceCollection/EthernetInterface":                      writeOnly(privConfigureManager),
	"ComputerSystem/LogServiceCollection":                                        writeOnly(privConfigureComponents),
	"ComputerSystem/LogServiceCollection/LogService":                             writeOnly(privConfigureComponents),
	"ComputerSystem/LogServiceCollection/LogService/LogEntryCollection":          writeOnly(privConfigureComponents),
	"ComputerSystem/LogServiceCollection/LogService/LogEntryCollection/LogEntry": writeOnly(privConfigureComponents),
}

func writeOnly(writers ...string) operationMap {
	w := any1(writers...)
	return operationMap{"PATCH": w, "PUT": w, "POST": w, "DELETE": w}
}

// roleGrants is allowedUnder for one resource and method, worked out once
// for each predefined role with self false and true: the request pipeline
// asks on every request, and the answer depends on nothing else.
type roleGrants [3][2]bool

var predefinedRoles = [3]string{RoleAdministrator, RoleOperator, RoleReadOnly}

func grantsFor(under, entity, method string) roleGrants {
	var g roleGrants
	for i, role := range predefinedRoles {
		g[i][0] = allowedUnder(role, under, entity, method, false)
		g[i][1] = allowedUnder(role, under, entity, method, true)
	}
	return g
}

func (g *roleGrants) allow(role, under, entity, method string, self bool) bool {
	j := 0
	if self {
		j = 1
	}
	for i, r := range predefinedRoles {
		if r == role {
			return g[i][j]
		}
	}
	return allowedUnder(role, under, entity, method, self)
}

// allowedUnder is allowed with the SubordinateOverrides of the chain of
// entities above entity applied.
func allowedUnder(role, under, entity, method string, self bool) bool {
	if under != "" {
		if ov, ok := subordinateOverrides[under+"/"+entity]; ok {
			if alts, ok := ov[method]; ok {
				return satisfies(role, alts, self)
			}
		}
	}
	return allowed(role, entity, method, self)
}

// allowed reports whether role may perform method on entity. self says
// whether the target is the caller's own account or session, which is what
// ConfigureSelf grants.
func allowed(role, entity, method string, self bool) bool {
	ops, ok := privilegeMap[entity]
	if !ok {
		return false
	}
	return satisfies(role, ops[method], self)
}

func satisfies(role string, alts [][]string, self bool) bool {
	have := rolePrivileges(role)
	for _, alt := range alts {
		ok := true
		for _, p := range alt {
			switch p {
			case privNoAuth:
			case privConfigureSelf:
				ok = ok && self && slices.Contains(have, p)
			default:
				ok = ok && slices.Contains(have, p)
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func hasPrivilege(role, priv string) bool { return slices.Contains(rolePrivileges(role), priv) }
