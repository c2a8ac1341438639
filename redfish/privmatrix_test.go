package redfish

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The privilege matrix crosses every route the engine has with every role
// and every method, and derives the status each must get from sources
// that are not the code under test: the DMTF privilege registry
// (Redfish_1.8.0_PrivilegeRegistry.json) for what each operation needs,
// DSP0266 for what each predefined role holds and which URIs are public,
// and the table below for which registry entity each route is. Custom
// roles are not supported (the account store knows only the predefined
// ones), so they have no column.
//
// Precedence, as DSP0266 and this service order the checks: no valid
// credentials on a non-public URI is 401; a method the route does not
// implement is 405 (and Allow lists the ones it does); lacking the
// registry's privilege is 403 InsufficientPrivilege; anything else passed
// authorization, which is all the matrix asserts of it: a harmless `{}`
// body may well be a 400, and a target an earlier row deleted a 404.
// Authorization comes before existence in this service, so such a 404
// still proves the role was let through; rows of a route run least
// privileged role first and DELETE last, and every route gets a fresh
// service, so a write never changes what another route's rows see.

// matrixRoles are DSP0266 clause 13.2.6's predefined roles and their
// AssignedPrivileges, as the specification lists them.
var matrixRoles = []struct {
	name, user, pass string
	privs            []string
}{
	{"anonymous", "", "", nil},
	{RoleReadOnly, "reader", "reader-pw", []string{"Login", "ConfigureSelf"}},
	{RoleOperator, "op", "operator-pw", []string{"Login", "ConfigureComponents", "ConfigureSelf"}},
	{RoleAdministrator, adminUser, adminPass, []string{"Login", "ConfigureManager", "ConfigureUsers", "ConfigureComponents", "ConfigureSelf"}},
}

// bystander owns the sessions, accounts and subscriptions that are no
// one's own in the matrix. An Operator, so it may own a subscription.
const bystanderUser, bystanderPass = "bystander", "bystander-pw"

var matrixMethods = []string{http.MethodGet, http.MethodHead, http.MethodPatch, http.MethodPut, http.MethodPost, http.MethodDelete}

// matrixRoute says what a route pattern is in the registry's terms.
type matrixRoute struct {
	entity string
	// chain is the entities above, outermost first, against which the
	// registry's SubordinateOverrides Targets are matched as a suffix.
	chain []string
	// doc: the representation is not a Redfish resource of entity (a
	// document, a stream or a task monitor), so its @odata.type is not
	// compared with entity.
	doc bool
	// aliasPOST: the route is a collection's Members, which DSP0266 9.6
	// makes only a POST target; its other methods fall to the member
	// route with "Members" as the id, so only POST is asserted.
	aliasPOST bool
}

var (
	chainSystem  = []string{"ComputerSystemCollection", "ComputerSystem"}
	chainLogSvc  = append(slices.Clone(chainSystem), "LogServiceCollection", "LogService")
	chainMemory  = append(slices.Clone(chainSystem), "MemoryCollection", "Memory")
	chainDomain  = append(slices.Clone(chainSystem), "MemoryDomainCollection", "MemoryDomain")
	chainChassis = []string{"ChassisCollection", "Chassis"}
	chainStorage = append(slices.Clone(chainSystem), "StorageCollection", "Storage")
	chainManager = []string{"ManagerCollection", "Manager"}
	chainMgrLog  = append(slices.Clone(chainManager), "LogServiceCollection", "LogService")
)

// matrixRoutes is keyed by the gin route pattern. A route added to the
// service without an entry here fails the matrix.
var matrixRoutes = map[string]matrixRoute{
	// DSP0266: the version document, the service root and
	// the OData documents are the service root's, readable by anyone.
	"/redfish":              {entity: "ServiceRoot", doc: true},
	"/redfish/v1":           {entity: "ServiceRoot"},
	"/redfish/v1/odata":     {entity: "ServiceRoot", doc: true},
	"/redfish/v1/$metadata": {entity: "ServiceRoot", doc: true},

	"/redfish/v1/Systems":                                                                               {entity: "ComputerSystemCollection"},
	"/redfish/v1/Systems/:system":                                                                       {entity: "ComputerSystem", chain: chainSystem[:1]},
	"/redfish/v1/Systems/:system/Actions/ComputerSystem.Reset":                                          {entity: "ComputerSystem", chain: chainSystem[:1]},
	"/redfish/v1/Systems/:system/LogServices":                                                           {entity: "LogServiceCollection", chain: chainSystem},
	"/redfish/v1/Systems/:system/LogServices/:log":                                                      {entity: "LogService", chain: chainLogSvc[:3]},
	"/redfish/v1/Systems/:system/LogServices/:log/Actions/LogService.ClearLog":                          {entity: "LogService", chain: chainLogSvc[:3]},
	"/redfish/v1/Systems/:system/LogServices/:log/Entries":                                              {entity: "LogEntryCollection", chain: chainLogSvc},
	"/redfish/v1/Systems/:system/LogServices/:log/Entries/:entry":                                       {entity: "LogEntry", chain: append(slices.Clone(chainLogSvc), "LogEntryCollection")},
	"/redfish/v1/Systems/:system/Memory":                                                                {entity: "MemoryCollection", chain: chainSystem},
	"/redfish/v1/Systems/:system/Memory/:memory":                                                        {entity: "Memory", chain: chainMemory[:3]},
	"/redfish/v1/Systems/:system/Memory/:memory/MemoryMetrics":                                          {entity: "MemoryMetrics", chain: chainMemory},
	"/redfish/v1/Systems/:system/Memory/:memory/MemoryMetrics/Actions/MemoryMetrics.ClearCurrentPeriod": {entity: "MemoryMetrics", chain: chainMemory},
	"/redfish/v1/Systems/:system/Memory/:memory/EnvironmentMetrics":                                     {entity: "EnvironmentMetrics", chain: chainMemory},
	"/redfish/v1/Systems/:system/MemoryDomains":                                                         {entity: "MemoryDomainCollection", chain: chainSystem},
	"/redfish/v1/Systems/:system/MemoryDomains/:domain":                                                 {entity: "MemoryDomain", chain: chainDomain[:3]},
	"/redfish/v1/Systems/:system/MemoryDomains/:domain/MemoryChunks":                                    {entity: "MemoryChunksCollection", chain: chainDomain},
	"/redfish/v1/Systems/:system/MemoryDomains/:domain/MemoryChunks/:chunk":                             {entity: "MemoryChunks", chain: append(slices.Clone(chainDomain), "MemoryChunksCollection")},

	"/redfish/v1/Systems/:system/Processors":                                      {entity: "ProcessorCollection", chain: chainSystem},
	"/redfish/v1/Systems/:system/Processors/:processor":                           {entity: "Processor", chain: append(slices.Clone(chainSystem), "ProcessorCollection")},
	"/redfish/v1/Systems/:system/EthernetInterfaces":                              {entity: "EthernetInterfaceCollection", chain: chainSystem},
	"/redfish/v1/Systems/:system/EthernetInterfaces/:nic":                         {entity: "EthernetInterface", chain: append(slices.Clone(chainSystem), "EthernetInterfaceCollection")},
	"/redfish/v1/Systems/:system/Storage":                                         {entity: "StorageCollection", chain: chainSystem},
	"/redfish/v1/Systems/:system/Storage/:storage":                                {entity: "Storage", chain: chainStorage[:3]},
	"/redfish/v1/Systems/:system/Storage/:storage/Controllers":                    {entity: "StorageControllerCollection", chain: chainStorage},
	"/redfish/v1/Systems/:system/Storage/:storage/Controllers/:controller":        {entity: "StorageController", chain: append(slices.Clone(chainStorage), "StorageControllerCollection")},
	"/redfish/v1/Systems/:system/Storage/:storage/Drives/:drive":                  {entity: "Drive", chain: chainStorage},
	"/redfish/v1/Systems/:system/Storage/:storage/Volumes":                        {entity: "VolumeCollection", chain: chainStorage},
	"/redfish/v1/Systems/:system/Storage/:storage/Volumes/:volume":                {entity: "Volume", chain: append(slices.Clone(chainStorage), "VolumeCollection")},
	"/redfish/v1/Systems/:system/SimpleStorage":                                   {entity: "SimpleStorageCollection", chain: chainSystem},
	"/redfish/v1/Systems/:system/SimpleStorage/:storage":                          {entity: "SimpleStorage", chain: append(slices.Clone(chainSystem), "SimpleStorageCollection")},
	"/redfish/v1/Chassis/:chassis/Power":                                          {entity: "Power", chain: chainChassis},
	"/redfish/v1/Chassis/:chassis/Thermal":                                        {entity: "Thermal", chain: chainChassis},
	"/redfish/v1/Managers/:manager/EthernetInterfaces":                            {entity: "EthernetInterfaceCollection", chain: chainManager},
	"/redfish/v1/Managers/:manager/EthernetInterfaces/:bmcnic":                    {entity: "EthernetInterface", chain: append(slices.Clone(chainManager), "EthernetInterfaceCollection")},
	"/redfish/v1/Managers/:manager/NetworkProtocol":                               {entity: "ManagerNetworkProtocol", chain: chainManager},
	"/redfish/v1/Managers/:manager/LogServices":                                   {entity: "LogServiceCollection", chain: chainManager},
	"/redfish/v1/Managers/:manager/LogServices/:mlog":                             {entity: "LogService", chain: chainMgrLog[:3]},
	"/redfish/v1/Managers/:manager/LogServices/:mlog/Actions/LogService.ClearLog": {entity: "LogService", chain: chainMgrLog[:3]},
	"/redfish/v1/Managers/:manager/LogServices/:mlog/Entries":                     {entity: "LogEntryCollection", chain: chainMgrLog},
	"/redfish/v1/Managers/:manager/LogServices/:mlog/Entries/:mentry":             {entity: "LogEntry", chain: append(slices.Clone(chainMgrLog), "LogEntryCollection")},
	"/redfish/v1/UpdateService":                                                   {entity: "UpdateService"},
	"/redfish/v1/UpdateService/FirmwareInventory":                                 {entity: "SoftwareInventoryCollection", chain: []string{"UpdateService"}},
	"/redfish/v1/UpdateService/FirmwareInventory/:firmware":                       {entity: "SoftwareInventory", chain: []string{"UpdateService", "SoftwareInventoryCollection"}},

	"/redfish/v1/Chassis":                                           {entity: "ChassisCollection"},
	"/redfish/v1/Chassis/:chassis":                                  {entity: "Chassis", chain: chainChassis[:1]},
	"/redfish/v1/Chassis/:chassis/Sensors":                          {entity: "SensorCollection", chain: chainChassis},
	"/redfish/v1/Chassis/:chassis/Sensors/:sensor":                  {entity: "Sensor", chain: append(slices.Clone(chainChassis), "SensorCollection")},
	"/redfish/v1/Managers":                                          {entity: "ManagerCollection"},
	"/redfish/v1/Managers/:manager":                                 {entity: "Manager", chain: []string{"ManagerCollection"}},
	"/redfish/v1/SessionService":                                    {entity: "SessionService"},
	"/redfish/v1/SessionService/Sessions":                           {entity: "SessionCollection", chain: []string{"SessionService"}},
	"/redfish/v1/SessionService/Sessions/Members":                   {entity: "SessionCollection", chain: []string{"SessionService"}, aliasPOST: true},
	"/redfish/v1/SessionService/Sessions/:session":                  {entity: "Session", chain: []string{"SessionService", "SessionCollection"}},
	"/redfish/v1/Registries":                                        {entity: "MessageRegistryFileCollection"},
	"/redfish/v1/Registries/:registry":                              {entity: "MessageRegistryFile", chain: []string{"MessageRegistryFileCollection"}},
	"/redfish/v1/Registries/:registry/:file":                        {entity: "MessageRegistry", chain: []string{"MessageRegistryFileCollection", "MessageRegistryFile"}},
	"/redfish/v1/JsonSchemas":                                       {entity: "JsonSchemaFileCollection"},
	"/redfish/v1/JsonSchemas/:schema":                               {entity: "JsonSchemaFile", chain: []string{"JsonSchemaFileCollection"}},
	"/redfish/v1/EventService":                                      {entity: "EventService"},
	"/redfish/v1/EventService/Actions/EventService.SubmitTestEvent": {entity: "EventService"},
	// The SSE stream is the EventService's ServerSentEventUri.
	"/redfish/v1/EventService/SSE":                                                            {entity: "EventService", doc: true},
	"/redfish/v1/EventService/Subscriptions":                                                  {entity: "EventDestinationCollection", chain: []string{"EventService"}},
	"/redfish/v1/EventService/Subscriptions/Members":                                          {entity: "EventDestinationCollection", chain: []string{"EventService"}, aliasPOST: true},
	"/redfish/v1/EventService/Subscriptions/:sub":                                             {entity: "EventDestination", chain: []string{"EventService", "EventDestinationCollection"}},
	"/redfish/v1/EventService/Subscriptions/:sub/Actions/EventDestination.ResumeSubscription": {entity: "EventDestination", chain: []string{"EventService", "EventDestinationCollection"}},
	"/redfish/v1/AccountService":                                                              {entity: "AccountService"},
	"/redfish/v1/AccountService/Accounts":                                                     {entity: "ManagerAccountCollection", chain: []string{"AccountService"}},
	"/redfish/v1/AccountService/Accounts/Members":                                             {entity: "ManagerAccountCollection", chain: []string{"AccountService"}, aliasPOST: true},
	"/redfish/v1/AccountService/Accounts/:account":                                            {entity: "ManagerAccount", chain: []string{"AccountService", "ManagerAccountCollection"}},
	"/redfish/v1/AccountService/Roles":                                                        {entity: "RoleCollection", chain: []string{"AccountService"}},
	"/redfish/v1/AccountService/Roles/:role":                                                  {entity: "Role", chain: []string{"AccountService", "RoleCollection"}},
	"/redfish/v1/TaskService":                                                                 {entity: "TaskService"},
	"/redfish/v1/TaskService/Tasks":                                                           {entity: "TaskCollection", chain: []string{"TaskService"}},
	"/redfish/v1/TaskService/Tasks/:task":                                                     {entity: "Task", chain: []string{"TaskService", "TaskCollection"}},
	// A task monitor is the opaque URI through which DSP0266 has the
	// client follow (and cancel) the task: it stands for the Task.
	"/redfish/v1/TaskService/TaskMonitors/:task": {entity: "Task", chain: []string{"TaskService", "TaskCollection"}, doc: true},
}

// publicURIs are readable (GET, HEAD) without credentials, per DSP0266.
// Other methods on them are 405 without credentials too: a client needs
// none to learn the service root's Allow.
var publicURIs = map[string]bool{"/redfish": true, "/redfish/v1": true, "/redfish/v1/odata": true, "/redfish/v1/$metadata": true}

// publicPOST: DSP0266 has session login (POST to the Sessions
// collection) need no credentials, over the registry's Login: logging in
// is how a client gets credentials.
func publicPOST(route string) bool {
	return route == "/redfish/v1/SessionService/Sessions" || route == "/redfish/v1/SessionService/Sessions/Members"
}

type privAlts = [][]string

type privOverride struct {
	targets []string
	ops     map[string]privAlts
}

type privRegistry struct {
	used      []string
	ops       map[string]map[string]privAlts
	overrides map[string][]privOverride
	// props are the PropertyOverrides: targets name properties.
	props map[string][]privOverride
}

func loadPrivRegistry(t *testing.T) privRegistry {
	t.Helper()
	type opMap map[string][]struct{ Privilege []string }
	var raw struct {
		PrivilegesUsed []string
		Mappings       []struct {
			Entity               string
			OperationMap         opMap
			SubordinateOverrides []struct {
				Targets      []string
				OperationMap opMap
			}
			PropertyOverrides []struct {
				Targets      []string
				OperationMap opMap
			}
		}
	}
	if err := json.Unmarshal(registryFile(t, "Redfish_1.8.0_PrivilegeRegistry.json"), &raw); err != nil {
		t.Fatal(err)
	}
	conv := func(m opMap) map[string]privAlts {
		out := map[string]privAlts{}
		for method, alts := range m {
			for _, a := range alts {
				out[method] = append(out[method], a.Privilege)
			}
		}
		return out
	}
	reg := privRegistry{used: raw.PrivilegesUsed, ops: map[string]map[string]privAlts{},
		overrides: map[string][]privOverride{}, props: map[string][]privOverride{}}
	for _, m := range raw.Mappings {
		reg.ops[m.Entity] = conv(m.OperationMap)
		for _, o := range m.SubordinateOverrides {
			reg.overrides[m.Entity] = append(reg.overrides[m.Entity], privOverride{o.Targets, conv(o.OperationMap)})
		}
		for _, o := range m.PropertyOverrides {
			reg.props[m.Entity] = append(reg.props[m.Entity], privOverride{o.Targets, conv(o.OperationMap)})
		}
	}
	return reg
}

// required is the registry's alternatives for method on rt: the entity's
// OperationMap, replaced for the methods it names by the most specific
// SubordinateOverride whose Targets end the chain of entities above.
func (reg privRegistry) required(rt matrixRoute, method string) privAlts {
	var best *privOverride
	for i, o := range reg.overrides[rt.entity] {
		n := len(o.targets)
		if n <= len(rt.chain) && slices.Equal(rt.chain[len(rt.chain)-n:], o.targets) && (best == nil || n > len(best.targets)) {
			best = &reg.overrides[rt.entity][i]
		}
	}
	if best != nil {
		if alts, ok := best.ops[method]; ok {
			return alts
		}
	}
	return reg.ops[rt.entity][method]
}

// grants: some alternative has all its privileges held, ConfigureSelf
// counting only on the caller's own session, account or subscription.
func grants(alts privAlts, held []string, own bool) bool {
	for _, alt := range alts {
		ok := true
		for _, p := range alt {
			switch {
			case p == "NoAuth":
			case p == "ConfigureSelf" && !own:
				ok = false
			default:
				ok = ok && slices.Contains(held, p)
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// selfParams name resources one can own, where ConfigureSelf counts.
var selfParams = []string{":session", ":account", ":sub"}

// matrixFixture is one fresh service with an instance of everything.
type matrixFixture struct {
	h      http.Handler
	values map[string]string            // route parameter -> id
	owned  map[string]map[string]string // route parameter -> user -> id of theirs
}

func newMatrixFixture(t *testing.T, route string) *matrixFixture {
	t.Helper()
	accts := []Account{
		{UserName: adminUser, Password: adminPass, Role: RoleAdministrator},
		{UserName: "reader", Password: "reader-pw", Role: RoleReadOnly},
		{UserName: "op", Password: "operator-pw", Role: RoleOperator},
		{UserName: bystanderUser, Password: bystanderPass, Role: RoleOperator},
	}
	h := newHandlerCfg(t, matrixPlatform(t, route), Config{SEL: newSEL(t), Accounts: accts})
	f := &matrixFixture{h: h, owned: map[string]map[string]string{}, values: map[string]string{
		":system": "1", ":memory": "CPU0_DIMM_A1", ":log": "SEL", ":entry": "1",
		":domain": "SystemMemory", ":chunk": "CPU0_DIMM_A1_x8", ":chassis": "1",
		":sensor": "temperature_CPU0_DIMM_A1", ":manager": "bmc",
		":registry": "BmcemuMemory", ":file": "BmcemuMemory.1.1.0", ":schema": "Memory", ":role": "Operator",
		":processor": "CPU1", ":nic": "LOM-1", ":storage": "RAID1", ":controller": "0", ":drive": "Disk5",
		":volume": "Volume1", ":bmcnic": "eth0", ":mlog": "AuditLog", ":mentry": "1", ":firmware": "Storage_RAID1",
	}}
	maps.Copy(f.values, hostMatrixValues)
	maps.Copy(f.values, cxlMatrixValues)
	users := [][2]string{{adminUser, adminPass}, {"reader", "reader-pw"}, {"op", "operator-pw"}, {bystanderUser, bystanderPass}}
	lastSeg := func(loc string) string { return loc[strings.LastIndex(loc, "/")+1:] }
	switch {
	case strings.Contains(route, ":session"):
		f.owned[":session"] = map[string]string{}
		for _, u := range users {
			_, loc := login(t, h, u[0], u[1])
			f.owned[":session"][u[0]] = lastSeg(loc)
		}
	case strings.Contains(route, ":account"):
		f.owned[":account"] = map[string]string{}
		for _, u := range users {
			m := getJSON(t, h, pathAccounts+"/"+accountIDOf(t, h, u[0]))
			f.owned[":account"][u[0]] = m["Id"].(string)
		}
	case strings.Contains(route, ":sub"):
		// A ReadOnly account cannot subscribe, so it owns none.
		f.owned[":sub"] = map[string]string{}
		for _, u := range users {
			if u[0] == "reader" {
				continue
			}
			w := do(t, h, http.MethodPost, pathSubscriptions, basic(u[0], u[1]),
				withBody(`{"Destination":"http://127.0.0.1:9/`+u[0]+`","Protocol":"Redfish"}`))
			if w.Code != http.StatusCreated {
				t.Fatalf("subscribe as %s: %d %s", u[0], w.Code, w.Body)
			}
			f.owned[":sub"][u[0]] = lastSeg(w.Header().Get("Location"))
		}
	case strings.Contains(route, ":mentry"):
		// A login is the audit log's first record.
		login(t, h, "reader", "reader-pw")
	case strings.Contains(route, ":task"):
		// Ejecting boot memory starts a task the firmware refuses.
		w := do(t, h, http.MethodPatch, dimm, withBody(`{"Enabled":false}`))
		loc, task := acceptedTask(t, w)
		f.values[":task"] = task["Id"].(string)
		// A running task cannot be cancelled (405 with DELETE in Allow);
		// an ended one can, so the DELETE rows do not race the firmware.
		waitFor(t, "the task to end", func() bool {
			return getJSON(t, h, pathTasks+"/"+f.values[":task"])["TaskState"] == "Exception"
		})
		if strings.Contains(route, "TaskMonitors") {
			f.values[":task"] = lastSeg(loc)
		}
	}
	return f
}

// accountIDOf finds a user's account Id through the collection.
func accountIDOf(t *testing.T, h http.Handler, user string) string {
	t.Helper()
	for _, m := range getJSON(t, h, pathAccounts)["Members"].([]any) {
		uri := m.(map[string]any)["@odata.id"].(string)
		if getJSON(t, h, uri)["UserName"] == user {
			return uri[strings.LastIndex(uri, "/")+1:]
		}
	}
	t.Fatalf("no account %s", user)
	return ""
}

// uri fills the route's parameters. owner is whose instance a self
// parameter names; "" is the bystander's.
func (f *matrixFixture) uri(t *testing.T, route, owner string) string {
	t.Helper()
	segs := strings.Split(route, "/")
	for i, s := range segs {
		if !strings.HasPrefix(s, ":") {
			continue
		}
		if byUser, ok := f.owned[s]; ok {
			if owner == "" {
				owner = bystanderUser
			}
			segs[i] = byUser[owner]
			continue
		}
		v, ok := f.values[s]
		if !ok {
			t.Fatalf("%s: no value for %s", route, s)
		}
		segs[i] = v
	}
	return strings.Join(segs, "/")
}

// owns: owner has an instance of each self parameter of route.
func (f *matrixFixture) owns(route, owner string) bool {
	for _, p := range selfParams {
		if strings.Contains(route, p) && f.owned[p][owner] == "" {
			return false
		}
	}
	return true
}

func allowSet(v string) []string {
	var out []string
	for m := range strings.SplitSeq(v, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

func TestPrivilegeMatrix(t *testing.T) {
	reg := loadPrivRegistry(t)
	for _, r := range matrixRoles {
		for _, p := range r.privs {
			if !slices.Contains(reg.used, p) {
				t.Fatalf("role %s: privilege %s is not one the registry uses", r.name, p)
			}
		}
	}
	// The route table is the engine's: every route must be mapped, and
	// every mapping must still be a route.
	engine := newHandlerCfg(t, newPlatform(t), Config{}).(*handler).engine
	methods := map[string][]string{}
	for _, ri := range engine.Routes() {
		methods[ri.Path] = append(methods[ri.Path], ri.Method)
	}
	for route := range methods {
		rt, ok := matrixRoutes[route]
		if !ok {
			t.Errorf("route %s has no entity in matrixRoutes", route)
			continue
		}
		if _, ok := reg.ops[rt.entity]; !ok {
			t.Errorf("route %s: entity %s is not in the privilege registry", route, rt.entity)
		}
		sort.Strings(methods[route])
		// DSP0266: an action is invoked with POST, and only POST.
		if strings.Contains(route, "/Actions/") && !slices.Equal(methods[route], []string{http.MethodPost}) {
			t.Errorf("action route %s serves %v, want POST alone", route, methods[route])
		}
	}
	for route := range matrixRoutes {
		if _, ok := methods[route]; !ok {
			t.Errorf("matrixRoutes has %s, which the service does not route", route)
		}
	}
	routes := make([]string, 0, len(methods))
	for r := range methods {
		if _, ok := matrixRoutes[r]; ok {
			routes = append(routes, r)
		}
	}
	sort.Strings(routes)

	rows := 0
	for _, route := range routes {
		rt := matrixRoutes[route]
		f := newMatrixFixture(t, route)
		selfRoute := false
		for _, p := range selfParams {
			selfRoute = selfRoute || strings.Contains(route, p)
		}
		// The instance exists, or a 404 of an authorized row would prove
		// nothing about where it was authorized. (A task monitor answers
		// with its operation's result, which may be an error.)
		if slices.Contains(methods[route], http.MethodGet) {
			if w := matrixDo(route, f.h, http.MethodGet, f.uri(t, route, ""), "", adminUser, adminPass); w.Code == http.StatusNotFound || w.Code >= 500 {
				t.Errorf("%s: GET %s as Administrator: %d", route, f.uri(t, route, ""), w.Code)
			}
		}
		// The entity mapped is the one the resource says it is.
		if !rt.doc && slices.Contains(methods[route], http.MethodGet) {
			typ, _ := getJSON(t, f.h, f.uri(t, route, ""))["@odata.type"].(string)
			if got := typ[strings.LastIndex(typ, ".")+1:]; got != rt.entity {
				t.Errorf("%s is a %s (%s), mapped as %s", route, got, typ, rt.entity)
			}
		}
		for _, method := range matrixMethods {
			if rt.aliasPOST && method != http.MethodPost {
				continue
			}
			registered := slices.Contains(methods[route], method)
			for _, own := range []bool{false, true} {
				if own && !selfRoute {
					continue
				}
				for _, role := range matrixRoles {
					anon := role.user == ""
					owner := ""
					if own {
						if anon {
							continue
						}
						owner = role.user
						if !f.owns(route, owner) {
							continue
						}
					}
					target := f.uri(t, route, owner)
					for _, b := range matrixBodies(t, reg, rt, method, owner) {
						required := reg.required(rt, method)
						if b.override != nil {
							required = b.override
						}
						var want int // 0: anything but 401, 403 and 405
						switch {
						case anon && !publicURIs[route] && !(method == http.MethodPost && publicPOST(route)):
							want = http.StatusUnauthorized
						case !registered:
							want = http.StatusMethodNotAllowed
						case anon:
							// A public operation.
						case !grants(required, role.privs, own):
							want = http.StatusForbidden
						}
						rows++
						w := matrixDo(route, f.h, method, target, b.body, role.user, role.pass)
						desc := route + " " + method + " " + b.body + " as " + role.name
						if own {
							desc += " (own)"
						}
						switch want {
						case 0:
							if w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden || w.Code == http.StatusMethodNotAllowed {
								t.Errorf("%s (%s): %d, want it authorized: %s", desc, target, w.Code, strings.TrimSpace(w.Body.String()))
							}
						default:
							if w.Code != want {
								t.Errorf("%s (%s): %d, want %d: %s", desc, target, w.Code, want, strings.TrimSpace(w.Body.String()))
								continue
							}
							if want == http.StatusForbidden && method != http.MethodHead && !strings.Contains(w.Body.String(), ".InsufficientPrivilege\"") {
								t.Errorf("%s: 403 without InsufficientPrivilege: %s", desc, w.Body)
							}
						}
						// Allow is the route's methods wherever it is sent, and
						// always on 405 (a 401 need not reveal it).
						if allow, ok := w.Header()["Allow"]; ok || w.Code == http.StatusMethodNotAllowed {
							if got := allowSet(strings.Join(allow, ",")); !slices.Equal(got, methods[route]) && !rt.aliasPOST {
								t.Errorf("%s: Allow %v, routes %v", desc, got, methods[route])
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d routes, %d (route, role, method) rows", len(routes), rows)
}

type matrixBody struct {
	body     string
	override privAlts // the PropertyOverride the body falls under
}

// matrixBodies are what a row sends: no body where the method takes
// none, else `{}`, and for a PATCH one body per PropertyOverride of the
// entity, setting that property to a value it may keep.
func matrixBodies(t *testing.T, reg privRegistry, rt matrixRoute, method, owner string) []matrixBody {
	t.Helper()
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodDelete:
		return []matrixBody{{}}
	}
	out := []matrixBody{{body: `{}`}}
	for _, o := range reg.props[rt.entity] {
		alts, ok := o.ops[method]
		if !ok {
			continue
		}
		for _, prop := range o.targets {
			if prop != "Password" {
				t.Errorf("%s: no value to %s its property %s with", rt.entity, method, prop)
				continue
			}
			// The account's own password, which the policy accepts again.
			pw := bystanderPass
			for _, r := range matrixRoles {
				if r.user != "" && r.user == owner {
					pw = r.pass
				}
			}
			out = append(out, matrixBody{body: `{"Password":"` + pw + `"}`, override: alts})
		}
	}
	return out
}

// matrixDo sends one matrix request with Basic credentials (none for
// user "") and body, if any.
func matrixDo(route string, h http.Handler, method, target, body, user, pass string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	if body != "" {
		r.Body, r.ContentLength = httpBody(body), int64(len(body))
		r.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		r.SetBasicAuth(user, pass)
	}
	if route == pathSSE {
		// An SSE stream runs until the client goes away: be gone already,
		// so the handler answers and returns.
		ctx, cancel := context.WithCancel(r.Context())
		cancel()
		r = r.WithContext(ctx)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
