package redfish

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/bmcemu/bmcemu/platform"
)

func TestVersions(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	for _, target := range []string{"/redfish", "/redfish/"} {
		m := getJSON(t, h, target, noAuth)
		if len(m) != 1 || m["v1"] != "/redfish/v1/" {
			t.Errorf("GET %s = %v", target, m)
		}
	}
}

func TestServiceRoot(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	for _, target := range []string{"/redfish/v1", "/redfish/v1/"} {
		m := getJSON(t, h, target, noAuth)
		want := map[string]any{
			"@odata.id":      "/redfish/v1/",
			"@odata.type":    "#ServiceRoot.v1_20_0.ServiceRoot",
			"Id":             "RootService",
			"RedfishVersion": "1.22.0",
			"Vendor":         "bmcemu",
			"Product":        "BMCEMU 2S DDR5 Server",
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s: %s = %v, want %v", target, k, m[k], v)
			}
		}
		for k, v := range map[string]string{"Systems": "/redfish/v1/Systems", "Chassis": "/redfish/v1/Chassis", "Managers": "/redfish/v1/Managers"} {
			if got := path(t, m, k, "@odata.id"); got != v {
				t.Errorf("%s link = %v, want %s", k, got, v)
			}
		}
		if got := path(t, m, "Links", "Sessions", "@odata.id"); got != "/redfish/v1/SessionService/Sessions" {
			t.Errorf("Links.Sessions = %v", got)
		}
	}
	// The UUID must survive a restart: same serial, same UUID.
	a := getJSON(t, h, "/redfish/v1/")["UUID"]
	b := getJSON(t, newHandler(t, newPlatform(t)), "/redfish/v1/")["UUID"]
	if a != b || a == "" {
		t.Errorf("service UUID not stable: %v vs %v", a, b)
	}
	if sys := getJSON(t, h, "/redfish/v1/Systems/1")["UUID"]; sys == a {
		t.Errorf("system UUID %v equals the service UUID", sys)
	}
	if mgr := getJSON(t, h, "/redfish/v1/Managers/bmc")["UUID"]; mgr != a {
		t.Errorf("manager UUID %v, want the service UUID %v", mgr, a)
	}
}

func TestCollections(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	tests := []struct {
		target, typ string
		members     []string
	}{
		{"/redfish/v1/Systems", "#ComputerSystemCollection.ComputerSystemCollection", []string{"/redfish/v1/Systems/1"}},
		{"/redfish/v1/Chassis", "#ChassisCollection.ChassisCollection", []string{"/redfish/v1/Chassis/1"}},
		{"/redfish/v1/Managers", "#ManagerCollection.ManagerCollection", []string{"/redfish/v1/Managers/bmc"}},
		{"/redfish/v1/SessionService/Sessions", "#SessionCollection.SessionCollection", nil},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			m := getJSON(t, h, tt.target)
			if m["@odata.id"] != tt.target || m["@odata.type"] != tt.typ {
				t.Errorf("identity = %v %v", m["@odata.id"], m["@odata.type"])
			}
			members, ok := m["Members"].([]any)
			if !ok {
				t.Fatalf("Members = %v, want an array", m["Members"])
			}
			if len(members) != len(tt.members) || m["Members@odata.count"] != float64(len(tt.members)) {
				t.Fatalf("Members = %v, count %v", members, m["Members@odata.count"])
			}
			for i, want := range tt.members {
				if got := path(t, members, i, "@odata.id"); got != want {
					t.Errorf("member %d = %v, want %s", i, got, want)
				}
			}
		})
	}
}

func TestSystem(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	m := getJSON(t, h, "/redfish/v1/Systems/1")
	want := map[string]any{
		"@odata.id":    "/redfish/v1/Systems/1",
		"@odata.type":  "#ComputerSystem.v1_27_0.ComputerSystem",
		"Id":           "1",
		"Manufacturer": "bmcemu",
		"Model":        "BMCEMU 2S DDR5 Server",
		"SerialNumber": "BMCEMU0001",
		"PartNumber":   "BMCEMU-2S-01",
		"BiosVersion":  "1.0.0",
		"PowerState":   "On",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if got := path(t, m, "MemorySummary", "TotalSystemMemoryGiB"); got != 512.0 {
		t.Errorf("TotalSystemMemoryGiB = %v, want 512", got)
	}
	if got := path(t, m, "MemorySummary", "MemoryMirroring"); got != "None" {
		t.Errorf("MemoryMirroring = %v", got)
	}
	if got := path(t, m, "Memory", "@odata.id"); got != "/redfish/v1/Systems/1/Memory" {
		t.Errorf("Memory link = %v", got)
	}
	if got := path(t, m, "Links", "Chassis", 0, "@odata.id"); got != "/redfish/v1/Chassis/1" {
		t.Errorf("Links.Chassis = %v", got)
	}
	if got := path(t, m, "Links", "ManagedBy", 0, "@odata.id"); got != "/redfish/v1/Managers/bmc" {
		t.Errorf("Links.ManagedBy = %v", got)
	}
	if got := path(t, m, "Status", "State"); got != "Enabled" {
		t.Errorf("Status.State = %v", got)
	}

	if err := p.SetPower(false); err != nil {
		t.Fatal(err)
	}
	m = getJSON(t, h, "/redfish/v1/Systems/1")
	if m["PowerState"] != "Off" || path(t, m, "Status", "State") != "StandbyOffline" {
		t.Errorf("powered off: PowerState %v, Status %v", m["PowerState"], m["Status"])
	}
	if got := getJSON(t, h, "/redfish/v1/Chassis/1")["PowerState"]; got != "Off" {
		t.Errorf("chassis PowerState = %v", got)
	}
}

func TestMemoryCollection(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	m := getJSON(t, h, "/redfish/v1/Systems/1/Memory")
	if m["@odata.type"] != "#MemoryCollection.MemoryCollection" {
		t.Errorf("@odata.type = %v", m["@odata.type"])
	}
	slots := p.Snapshot().Slots
	if m["Members@odata.count"] != float64(len(slots)) || len(slots) != 32 {
		t.Fatalf("count = %v, slots %d", m["Members@odata.count"], len(slots))
	}
	for i, sl := range slots {
		if got := path(t, m, "Members", i, "@odata.id"); got != "/redfish/v1/Systems/1/Memory/"+sl.Name {
			t.Errorf("member %d = %v", i, got)
		}
	}
}

func TestMemoryPopulated(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	m := getJSON(t, h, "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1")
	want := map[string]any{
		"@odata.id":         "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1",
		"@odata.type":       "#Memory.v1_23_0.Memory",
		"Id":                "CPU0_DIMM_A1",
		"CapacityMiB":       32768.0,
		"MemoryType":        "DRAM",
		"MemoryDeviceType":  "DDR5",
		"BaseModuleType":    "RDIMM",
		"RankCount":         1.0,
		"OperatingSpeedMhz": 4800.0,
		"DataWidthBits":     64.0,
		"BusWidthBits":      72.0,
		"Manufacturer":      "Samsung",
		"PartNumber":        "M321R4GA3BB6-CQK",
		"ErrorCorrection":   "SingleBitECC",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if sn, _ := m["SerialNumber"].(string); len(sn) != 8 {
		t.Errorf("SerialNumber = %q, want 8 hex digits", sn)
	}
	loc := path(t, m, "MemoryLocation").(map[string]any)
	for k, v := range map[string]float64{"Socket": 0, "MemoryController": 0, "Channel": 0, "Slot": 1} {
		if loc[k] != v {
			t.Errorf("MemoryLocation.%s = %v, want %v", k, loc[k], v)
		}
	}
	pl := path(t, m, "Location", "PartLocation").(map[string]any)
	if pl["ServiceLabel"] != "CPU0_DIMM_A1" || pl["LocationType"] != "Slot" || pl["LocationOrdinalValue"] != 0.0 {
		t.Errorf("PartLocation = %v", pl)
	}
	if st := path(t, m, "Status").(map[string]any); st["State"] != "Enabled" || st["Health"] != "OK" {
		t.Errorf("Status = %v", st)
	}

	// A module on socket 1 lands in the right place.
	m = getJSON(t, h, "/redfish/v1/Systems/1/Memory/CPU1_DIMM_H1")
	if loc := path(t, m, "MemoryLocation").(map[string]any); loc["Socket"] != 1.0 || loc["Channel"] != 7.0 || loc["MemoryController"] != 3.0 {
		t.Errorf("CPU1_DIMM_H1 MemoryLocation = %v", loc)
	}
}

func TestMemoryEmptySlot(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	m := getJSON(t, h, "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2")
	st := path(t, m, "Status").(map[string]any)
	if st["State"] != "Absent" {
		t.Errorf("Status.State = %v", st["State"])
	}
	if _, ok := st["Health"]; ok {
		t.Errorf("absent slot reports Health: %v", st)
	}
	for _, k := range []string{"CapacityMiB", "MemoryType", "MemoryDeviceType", "BaseModuleType", "RankCount",
		"OperatingSpeedMhz", "DataWidthBits", "BusWidthBits", "Manufacturer", "PartNumber", "SerialNumber", "ErrorCorrection"} {
		if v, ok := m[k]; ok {
			t.Errorf("absent slot has %s = %v", k, v)
		}
	}
	if got := path(t, m, "MemoryLocation", "Slot"); got != 2.0 {
		t.Errorf("MemoryLocation.Slot = %v", got)
	}
	if got := path(t, m, "Location", "PartLocation", "LocationOrdinalValue"); got != 1.0 {
		t.Errorf("LocationOrdinalValue = %v", got)
	}
}

// The service reads the platform per request, so a hot-add shows up at once.
func TestHotAddIsLive(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	insert(t, p, "CPU0_DIMM_A2", 64)

	if got := path(t, getJSON(t, h, "/redfish/v1/Systems/1"), "MemorySummary", "TotalSystemMemoryGiB"); got != 576.0 {
		t.Errorf("TotalSystemMemoryGiB after insert = %v, want 576", got)
	}
	m := getJSON(t, h, "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2")
	if m["CapacityMiB"] != 65536.0 || m["RankCount"] != 2.0 || path(t, m, "Status", "State") != "Enabled" {
		t.Errorf("inserted module = %v", m)
	}

	if _, err := p.Remove("CPU0_DIMM_A1"); err != nil {
		t.Fatal(err)
	}
	if got := path(t, getJSON(t, h, "/redfish/v1/Systems/1"), "MemorySummary", "TotalSystemMemoryGiB"); got != 544.0 {
		t.Errorf("TotalSystemMemoryGiB after remove = %v, want 544", got)
	}
	if got := path(t, getJSON(t, h, "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1"), "Status", "State"); got != "Absent" {
		t.Errorf("removed slot State = %v", got)
	}
}

// Readers and the platform's writers race freely; -race checks the
// service keeps no unsynchronised copy.
func TestConcurrentReadsDuringHotPlug(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				if w := do(t, h, http.MethodGet, "/redfish/v1/Systems/1"); w.Code != http.StatusOK {
					t.Errorf("status %d", w.Code)
				}
			}
		})
	}
	for i, slot := range []string{"CPU0_DIMM_A2", "CPU0_DIMM_B2", "CPU1_DIMM_A2"} {
		insert(t, p, slot, 16*(i+1))
	}
	wg.Wait()
}

func TestChassis(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	m := getJSON(t, h, "/redfish/v1/Chassis/1")
	if m["@odata.type"] != "#Chassis.v1_28_0.Chassis" || m["ChassisType"] != "RackMount" || m["PowerState"] != "On" {
		t.Errorf("chassis = %v", m)
	}
	if got := path(t, m, "Links", "ComputerSystems", 0, "@odata.id"); got != "/redfish/v1/Systems/1" {
		t.Errorf("Links.ComputerSystems = %v", got)
	}
	if got := path(t, m, "Links", "ManagedBy", 0, "@odata.id"); got != "/redfish/v1/Managers/bmc" {
		t.Errorf("Links.ManagedBy = %v", got)
	}
}

func TestManager(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	m := getJSON(t, h, "/redfish/v1/Managers/bmc")
	if m["@odata.type"] != "#Manager.v1_24_0.Manager" || m["ManagerType"] != "BMC" || m["FirmwareVersion"] != "1.0.0" || m["Id"] != "bmc" {
		t.Errorf("manager = %v", m)
	}
	if got := path(t, m, "Links", "ManagerForServers", 0, "@odata.id"); got != "/redfish/v1/Systems/1" {
		t.Errorf("ManagerForServers = %v", got)
	}
	if got := path(t, m, "Links", "ManagerForChassis", 0, "@odata.id"); got != "/redfish/v1/Chassis/1" {
		t.Errorf("ManagerForChassis = %v", got)
	}
}

func TestAuthentication(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	tests := []struct {
		name string
		opt  reqOpt
		want int
	}{
		{"none", noAuth, http.StatusUnauthorized},
		{"wrong password", basic(adminUser, "nope"), http.StatusUnauthorized},
		{"unknown user", basic("mallory", adminPass), http.StatusUnauthorized},
		{"empty", basic("", ""), http.StatusUnauthorized},
		{"admin", basic(adminUser, adminPass), http.StatusOK},
		{"read-only", basic("reader", "reader-pw"), http.StatusOK},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each case from its own address, so that the failures of
			// one do not block the next (per-address blocking).
			src := from(fmt.Sprintf("192.0.2.%d", 10+i))
			for _, target := range []string{"/redfish/v1/Systems", "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1", "/redfish/v1/NoSuchThing"} {
				w := do(t, h, http.MethodGet, target, tt.opt, src)
				if tt.want == http.StatusOK {
					if w.Code == http.StatusUnauthorized {
						t.Errorf("GET %s: 401 with valid credentials", target)
					}
					continue
				}
				checkError(t, w, http.StatusUnauthorized, "NoValidSession")
				if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, `Basic realm="`) {
					t.Errorf("WWW-Authenticate = %q", got)
				}
			}
		})
	}
	// Public documents need no credentials, and bad ones do not hurt.
	for _, target := range []string{"/redfish", "/redfish/v1", "/redfish/v1/", "/redfish/v1/odata", "/redfish/v1/$metadata"} {
		if w := do(t, h, http.MethodGet, target, basic("x", "y")); w.Code != http.StatusOK {
			t.Errorf("GET %s with bad credentials: %d", target, w.Code)
		}
	}
}

func TestNotFound(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	tests := []struct {
		target string
		id     string
		args   []string
	}{
		{"/redfish/v1/Systems/2", "ResourceNotFound", []string{"ComputerSystem", "2"}},
		{"/redfish/v1/Systems/2/Memory", "ResourceNotFound", []string{"ComputerSystem", "2"}},
		{"/redfish/v1/Systems/2/Memory/CPU0_DIMM_A1", "ResourceNotFound", []string{"ComputerSystem", "2"}},
		{"/redfish/v1/Systems/1/Memory/CPU9_DIMM_Z9", "ResourceNotFound", []string{"Memory", "CPU9_DIMM_Z9"}},
		{"/redfish/v1/Systems/1/Memory/cpu0_dimm_a1", "ResourceNotFound", []string{"Memory", "cpu0_dimm_a1"}},
		{"/redfish/v1/Systems/1/Memory/..", "ResourceNotFound", []string{"Memory", ".."}},
		{"/redfish/v1/Chassis/bmc", "ResourceNotFound", []string{"Chassis", "bmc"}},
		{"/redfish/v1/Managers/1", "ResourceNotFound", []string{"Manager", "1"}},
		{"/redfish/v1/NoSuchThing", "InvalidURI", []string{"/redfish/v1/NoSuchThing"}},
		{"/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1/Extra", "InvalidURI", []string{"/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1/Extra"}},
		{"/redfish/v2", "InvalidURI", []string{"/redfish/v2"}},
		{"/redfish/v1/Systems%2F1", "InvalidURI", []string{"/redfish/v1/Systems%2F1"}},
		{"/redfish/v1/Systems/1/Memory/CPU0%5FDIMM%5FA9", "ResourceNotFound", []string{"Memory", "CPU0_DIMM_A9"}},
		{"/redfish/v1//Systems", "InvalidURI", []string{"/redfish/v1//Systems"}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			checkError(t, do(t, h, http.MethodGet, tt.target), http.StatusNotFound, tt.id, tt.args...)
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	targets := map[string]string{
		"/redfish": "GET, HEAD", "/redfish/v1/": "GET, HEAD", "/redfish/v1/Systems": "GET, HEAD", "/redfish/v1/Systems/1": "GET, HEAD, PATCH",
		"/redfish/v1/Systems/1/Memory": "GET, HEAD", "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1": "GET, HEAD, PATCH",
		"/redfish/v1/Chassis/1": "GET, HEAD, PATCH", "/redfish/v1/Managers/bmc": "GET, HEAD, PATCH", "/redfish/v1/Chassis/1/Sensors": "GET, HEAD",
		"/redfish/v1/SessionService/Sessions": "GET, HEAD, POST", "/redfish/v1/SessionService": "GET, HEAD, PATCH",
		"/redfish/v1/AccountService/Accounts": "GET, HEAD, POST", "/redfish/v1/AccountService/Accounts/2": "GET, HEAD, PATCH, DELETE",
		"/redfish/v1/AccountService/Roles/ReadOnly": "GET, HEAD",
	}
	for target, allow := range targets {
		// GET carries Allow too.
		if got := do(t, h, http.MethodGet, target).Header().Get("Allow"); got != allow {
			t.Errorf("GET %s: Allow = %q, want %q", target, got, allow)
		}
		for _, method := range []string{http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete, "PROPFIND"} {
			if strings.Contains(allow, method) {
				continue
			}
			w := do(t, h, method, target)
			checkError(t, w, http.StatusMethodNotAllowed, "OperationNotAllowed")
			if got := w.Header().Get("Allow"); got != allow {
				t.Errorf("%s %s: Allow = %q, want %q", method, target, got, allow)
			}
		}
	}
	// A protected resource still asks for credentials first.
	w := do(t, h, http.MethodPost, "/redfish/v1/Systems", noAuth)
	checkError(t, w, http.StatusUnauthorized, "NoValidSession")
	if got := w.Header().Get("Allow"); got != "" {
		t.Errorf("401 carries Allow %q", got)
	}
	// The public service root answers 405 to anyone.
	checkError(t, do(t, h, http.MethodPost, "/redfish/v1", noAuth), http.StatusMethodNotAllowed, "OperationNotAllowed")
}

func TestHead(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	for _, target := range []string{"/redfish/v1/", "/redfish/v1/Systems/1", "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A2", "/redfish/v1/$metadata"} {
		get := do(t, h, http.MethodGet, target)
		head := do(t, h, http.MethodHead, target)
		if head.Code != http.StatusOK || head.Body.Len() != 0 {
			t.Errorf("HEAD %s: %d with %d body bytes", target, head.Code, head.Body.Len())
		}
		for _, k := range []string{"Content-Type", "OData-Version", "Content-Length"} {
			if head.Header().Get(k) != get.Header().Get(k) || head.Header().Get(k) == "" {
				t.Errorf("HEAD %s: %s = %q, GET has %q", target, k, head.Header().Get(k), get.Header().Get(k))
			}
		}
	}
	checkHeadError := do(t, h, http.MethodHead, "/redfish/v1/Systems/9")
	if checkHeadError.Code != http.StatusNotFound || checkHeadError.Body.Len() != 0 {
		t.Errorf("HEAD unknown member: %d, %d body bytes", checkHeadError.Code, checkHeadError.Body.Len())
	}
}

func TestQueryParameters(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	checkError(t, do(t, h, http.MethodGet, "/redfish/v1/Systems?$orderby=Id"), http.StatusNotImplemented, "QueryParameterUnsupported", "$orderby")
	// DSP0266: parameters without '$' that the service does not know are ignored.
	getJSON(t, h, "/redfish/v1/Systems?foo=bar")
}

func TestTrailingSlash(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	for _, target := range []string{"/redfish/v1/Systems", "/redfish/v1/Systems/1", "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1", "/redfish/v1/Managers/bmc"} {
		a := do(t, h, http.MethodGet, target)
		b := do(t, h, http.MethodGet, target+"/")
		if a.Code != http.StatusOK || b.Code != http.StatusOK || a.Body.String() != b.Body.String() {
			t.Errorf("%s vs %s/: %d/%d, bodies differ: %v", target, target, a.Code, b.Code, a.Body.String() != b.Body.String())
		}
	}
}

func TestODataDocuments(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	m := getJSON(t, h, "/redfish/v1/odata", noAuth)
	if m["@odata.context"] != "/redfish/v1/$metadata" || path(t, m, "value", 0, "url") != "/redfish/v1/" {
		t.Errorf("odata = %v", m)
	}
	w := do(t, h, http.MethodGet, "/redfish/v1/$metadata", noAuth)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/xml" || w.Header().Get("OData-Version") != "4.0" {
		t.Fatalf("$metadata: %d %v", w.Code, w.Header())
	}
	var doc struct {
		References []struct {
			URI      string `xml:"Uri,attr"`
			Includes []struct {
				Namespace string `xml:"Namespace,attr"`
			} `xml:"Include"`
		} `xml:"Reference"`
	}
	if err := xml.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatalf("$metadata is not XML: %v", err)
	}
	// Every @odata.type served must be declared by an included namespace.
	ns := map[string]bool{}
	for _, r := range doc.References {
		for _, inc := range r.Includes {
			ns[inc.Namespace] = true
		}
	}
	for _, typ := range []string{typeServiceRoot, typeSystem, typeSystemCollection, typeMemory, typeMemoryCollection,
		typeChassis, typeChassisCollection, typeManager, typeManagerCollection, typeSessionService, typeSessionCollection, typeMessage} {
		n := strings.TrimPrefix(typ[:strings.LastIndex(typ, ".")], "#")
		if !ns[n] {
			t.Errorf("$metadata lacks namespace %s", n)
		}
	}
}

type panickingPlatform struct{}

func (panickingPlatform) Snapshot() *platform.Snapshot { panic("boom") }

func TestPanicBecomesInternalError(t *testing.T) {
	h := newHandler(t, panickingPlatform{})
	checkError(t, do(t, h, http.MethodGet, "/redfish/v1/Systems/1"), http.StatusInternalServerError, "InternalError")
}

func TestNewRejectsBadConfig(t *testing.T) {
	p := newPlatform(t)
	tests := []struct {
		name string
		cfg  Config
		p    Platform
	}{
		{"nil platform", Config{}, nil},
		{"bad role", Config{Accounts: []Account{{UserName: "a", Password: "b", Role: "Root"}}}, p},
		{"empty user", Config{Accounts: []Account{{Password: "b", Role: RoleReadOnly}}}, p},
		{"duplicate", Config{Accounts: []Account{{UserName: "a", Role: RoleReadOnly}, {UserName: "a", Role: RoleOperator}}}, p},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg, tt.p); err == nil {
			t.Errorf("%s: New succeeded", tt.name)
		}
	}
	_, err := New(Config{Accounts: []Account{{UserName: "a", Role: "Root"}}}, p)
	if !errors.Is(err, errBadAccount) {
		t.Errorf("bad role error %v does not wrap errBadAccount", err)
	}
}

func TestFormatMessage(t *testing.T) {
	got := formatMessage("The requested resource of type %1 named '%2' was not found.", []string{"Memory", "%1"})
	if want := "The requested resource of type Memory named '%1' was not found."; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
