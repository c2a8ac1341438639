package redfish

import (
	"crypto/sha1"
	"fmt"
)

// Resource types served, pinned to DSP8010 2025.4. A type bump is a
// deliberate change: the schema test validates payloads against exactly
// these versions, so a property added without bumping fails there.
const (
	typeServiceRoot       = "#ServiceRoot.v1_20_0.ServiceRoot"
	typeSystemCollection  = "#ComputerSystemCollection.ComputerSystemCollection"
	typeSystem            = "#ComputerSystem.v1_27_0.ComputerSystem"
	typeMemoryCollection  = "#MemoryCollection.MemoryCollection"
	typeMemory            = "#Memory.v1_23_0.Memory"
	typeChassisCollection = "#ChassisCollection.ChassisCollection"
	typeChassis           = "#Chassis.v1_28_0.Chassis"
	typeManagerCollection = "#ManagerCollection.ManagerCollection"
	typeManager           = "#Manager.v1_24_0.Manager"
	typeSessionService    = "#SessionService.v1_2_0.SessionService"
	typeSessionCollection = "#SessionCollection.SessionCollection"
	typeSession           = "#Session.v1_8_0.Session"
	typeAccountService    = "#AccountService.v1_18_1.AccountService"
	typeAccountCollection = "#ManagerAccountCollection.ManagerAccountCollection"
	typeManagerAccount    = "#ManagerAccount.v1_14_1.ManagerAccount"
	typeRoleCollection    = "#RoleCollection.RoleCollection"
	typeRole              = "#Role.v1_3_3.Role"
	typeMessage           = "#Message.v1_3_0.Message"

	typeLogServiceCollection = "#LogServiceCollection.LogServiceCollection"
	typeLogService           = "#LogService.v1_9_0.LogService"
	typeLogEntryCollection   = "#LogEntryCollection.LogEntryCollection"
	typeLogEntry             = "#LogEntry.v1_21_0.LogEntry"
)

// Versions of the protocol and registries the service speaks.
const (
	redfishVersion = "1.22.0"
	baseRegistry   = "Base.1.22.1"
)

// URIs. The service root keeps its trailing slash because that is how
// DSP0266 and the DMTF mockups spell it; every other URI has none.
const (
	pathRedfish        = "/redfish"
	pathRoot           = "/redfish/v1"
	pathRootCanonical  = "/redfish/v1/"
	pathODataDoc       = "/redfish/v1/odata"
	pathMetadata       = "/redfish/v1/$metadata"
	pathSystems        = "/redfish/v1/Systems"
	pathChassis        = "/redfish/v1/Chassis"
	pathManagers       = "/redfish/v1/Managers"
	pathSessionService = "/redfish/v1/SessionService"
	pathSessions       = "/redfish/v1/SessionService/Sessions"
	pathAccountService = "/redfish/v1/AccountService"
	pathAccounts       = "/redfish/v1/AccountService/Accounts"
	pathRoles          = "/redfish/v1/AccountService/Roles"
)

// Member ids of the singletons this one-server emulator exposes.
const (
	systemID  = "1"
	chassisID = "1"
	managerID = "bmc"
)

func systemPath() string           { return pathSystems + "/" + systemID }
func memoryCollectionPath() string { return systemPath() + "/Memory" }
func memoryPath(slot string) string {
	return memoryCollectionPath() + "/" + slot
}
func chassisPath() string { return pathChassis + "/" + chassisID }
func managerPath() string { return pathManagers + "/" + managerID }

// odata is the identity every resource carries.
type odata struct {
	ID   string `json:"@odata.id"`
	Type string `json:"@odata.type"`
}

// link is a navigation property: a reference to another resource.
type link struct {
	ID string `json:"@odata.id"`
}

func links(paths ...string) []link {
	l := make([]link, len(paths))
	for i, p := range paths {
		l[i] = link{ID: p}
	}
	return l
}

// collection is a resource collection. Members is never nil so an empty
// collection renders as [] rather than null, which the schema rejects.
type collection struct {
	odata
	Name        string `json:"Name"`
	Description string `json:"Description,omitempty"`
	Members     []link `json:"Members"`
	Count       int    `json:"Members@odata.count"`
}

func newCollection(id, typ, name string, members []link) collection {
	if members == nil {
		members = []link{}
	}
	return collection{odata: odata{ID: id, Type: typ}, Name: name, Members: members, Count: len(members)}
}

// status is Resource.Status. Health is omitted for absent resources, as
// DSP0268 asks.
type status struct {
	State        string `json:"State"`
	Health       string `json:"Health,omitempty"`
	HealthRollup string `json:"HealthRollup,omitempty"`
}

func statusOK() status { return status{State: "Enabled", Health: "OK", HealthRollup: "OK"} }

func powerState(on bool) string {
	if on {
		return "On"
	}
	return "Off"
}

// nameUUID derives a stable RFC 9562 version-5 UUID so the same board keeps
// its identity across restarts and two boards never share one; kind
// separates the host's identity from the BMC's.
func nameUUID(kind, serial string) string {
	// The URL namespace from RFC 9562 appendix A.
	ns := [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte("bmcemu:" + kind + ":" + serial))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
