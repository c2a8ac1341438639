package redfish

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bmcemu/bmcemu/conformance/schemacheck"
)

// TestSchemaCrawl walks every resource reachable from the service root and
// validates each against the DMTF schema its @odata.type names.
func TestSchemaCrawl(t *testing.T) {
	v := schemacheck.NewForTest(t)
	p := newPlatform(t)
	// The SEL holds every record shape the service renders; the Event log
	// fills from the platform changes below.
	h := newHandlerCfg(t, p, Config{SEL: newSEL(t)})
	// A second, different module so both rank counts and an odd capacity
	// go through the schema, beside the populated and empty slots.
	insert(t, p, "CPU1_DIMM_C2", 64)
	if err := p.SetLocationIndicator("CPU0_DIMM_A1", true); err != nil {
		t.Fatal(err)
	}
	subscribe(t, h, `{"Destination":"http://127.0.0.1:9/crawl","Protocol":"Redfish","OriginResources":[{"@odata.id":"/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1"}]}`)
	waitFor(t, "the event log", func() bool {
		return hasMessage(members(t, getJSON(t, h, "/redfish/v1/Systems/1/LogServices/EventLog/Entries")),
			"The location indicator of memory slot CPU0_DIMM_A1 is now On.")
	})
	// A live session, so the Session resource is crawled too.
	login(t, h, "reader", "reader-pw")
	// A task, ended by the firmware refusing to eject boot memory.
	if w := do(t, h, http.MethodPatch, "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1", withBody(`{"Enabled":false}`)); w.Code != http.StatusAccepted {
		t.Fatalf("PATCH Enabled: %d %s", w.Code, w.Body)
	}
	waitFor(t, "the task to end", func() bool { return getJSON(t, h, "/redfish/v1/TaskService/Tasks/1")["TaskState"] == "Exception" })

	types := map[string]int{}
	n := crawl(t, h, []string{"/redfish/v1/"}, func(uri string, w *httptest.ResponseRecorder, m map[string]any) {
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: %d %s", uri, w.Code, w.Body)
			return
		}
		typ, _ := m["@odata.type"].(string)
		if _, err := schemacheck.SchemaFor(typ); err != nil {
			t.Errorf("GET %s: %v", uri, err)
			return
		}
		if m["@odata.id"] != uri {
			t.Errorf("GET %s: @odata.id is %v", uri, m["@odata.id"])
		}
		// Logs embed their entries: each is validated on its own, the
		// collection with references in their place.
		validateTree(t, v, "GET "+uri, decode(t, w.Body.Bytes()))
		types[typ]++
	})
	if n < 40 {
		t.Errorf("crawled only %d resources: %v", n, types)
	}
	for _, typ := range []string{typeRegistryFile, typeRegistryFileColl, typeEventService, typeEventDestination, typeEventDestinationColl, typeLogService, typeLogServiceCollection, typeLogEntryCollection, typeLogEntry, typeSession, typeAccountService, typeManagerAccount, typeRole, typeRoleCollection, typeAccountCollection, typeSessionService, typeMemoryMetrics,
		typeSensorCollection, typeSensor, typeEnvironmentMetrics, typeJSONSchemaFileColl, typeJSONSchemaFile,
		typeTaskService, typeTaskCollection, typeTask,
		typeMemoryDomainCollection, typeMemoryDomain, typeMemoryChunksCollection, typeMemoryChunks,
		typeProcessorCollection, typeProcessor, typeEthernetInterfaceCollection, typeEthernetInterface,
		typeStorageCollection, typeStorage, typeStorageControllerCollection, typeStorageController, typeDrive,
		typeVolumeCollection, typeVolume, typeSimpleStorageCollection, typeSimpleStorage, typePower, typeThermal,
		typeNetworkProtocol, typeUpdateService, typeSoftwareInventoryCollection, typeSoftwareInventory} {
		if types[typ] == 0 {
			t.Errorf("crawl never reached %s", typ)
		}
	}
	// JsonSchemas names exactly the schemas in use: every type the crawl
	// met, the registry document the service hosts (linked by Location, not
	// @odata.id), plus the Event and Message payloads that no GET returns.
	served := maps.Clone(types)
	reg := getJSON(t, h, "/redfish/v1/Registries/BmcemuMemory/"+oemRegistry)
	served[reg["@odata.type"].(string)]++
	attrs := getJSON(t, h, "/redfish/v1/Registries/"+biosRegistryPrefix+"/"+biosRegistry)
	served[attrs["@odata.type"].(string)]++
	listed := map[string]bool{}
	for _, mem := range members(t, getJSON(t, h, "/redfish/v1/JsonSchemas")) {
		l := mem.(map[string]any)["@odata.id"].(string)
		f := getJSON(t, h, l)
		listed[f["Schema"].(string)] = true
		_, file := schemaOf(f["Schema"].(string))
		if got := path(t, f, "Location", 0, "PublicationUri"); got != schemacheck.URLPrefix+file {
			t.Errorf("%s: PublicationUri %v", l, got)
		}
		if _, err := os.Stat(filepath.Join(schemacheck.NeedDir(t), file)); err != nil {
			t.Errorf("%s names a file DSP8010 does not publish: %v", l, err)
		}
	}
	for typ := range served {
		if !listed[typ] {
			t.Errorf("JsonSchemas lacks %s, which the service serves", typ)
		}
	}
	for typ := range listed {
		if served[typ] == 0 && typ != typeEvent && typ != typeMessage {
			t.Errorf("JsonSchemas lists %s, which the crawl never met", typ)
		}
	}
	t.Logf("validated %d payloads: %v", n, types)

	// The same resources expanded: each embedded resource is validated
	// against its own schema, the container with references in its place.
	expanded := 0
	for _, target := range []string{
		"/redfish/v1/?$expand=*($levels=3)", "/redfish/v1/Systems/1/Memory?$expand=.", "/redfish/v1/AccountService?$expand=.($levels=2)",
		"/redfish/v1/SessionService/Sessions?$expand=.", "/redfish/v1/Systems/1?$expand=~", "/redfish/v1/Systems/1/Memory?$top=3&$skip=2",
		"/redfish/v1/Systems/1/Memory?$filter=Status/State%20eq%20'Enabled'&$expand=.",
		"/redfish/v1/Systems/1/LogServices?$expand=.($levels=2)", "/redfish/v1/Systems/1/LogServices/SEL/Entries?$top=2",
		"/redfish/v1/Chassis/1?$expand=.($levels=2)", "/redfish/v1/Systems/1/Storage?$expand=.($levels=3)",
		"/redfish/v1/Managers/bmc?$expand=.($levels=3)", "/redfish/v1/UpdateService/FirmwareInventory?$expand=.", "/redfish/v1/Systems/1/Memory/CPU1_DIMM_C2?$expand=.", "/redfish/v1/JsonSchemas?$expand=.",
	} {
		w := do(t, h, http.MethodGet, target)
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: %d %s", target, w.Code, w.Body)
			continue
		}
		expanded += validateTree(t, v, target, decode(t, w.Body.Bytes()))
	}
	t.Logf("validated %d resources inside expanded payloads", expanded)
}

// Every event a platform fact produces is a valid Event payload.
func TestSchemaEventPayloads(t *testing.T) {
	v := schemacheck.NewForTest(t)
	loc, _ := schemacheck.SchemaFor(typeEvent)
	h := newEventHub(0, nil)
	n := 0
	for _, e := range sampleEvents() {
		for _, spec := range translate(e) {
			ev := h.publish(time.Unix(1700000000, 0), spec)
			if err := v.Validate(mustJSON(t, eventPayload(ev, "ctx")), loc); err != nil {
				t.Errorf("%s: %v", spec.id, err)
			}
			if _, ok := eventMessages[spec.id]; !ok {
				t.Errorf("%s: no such message", spec.id)
			}
			n++
		}
	}
	t.Logf("validated %d event payloads", n)
}

// validateTree validates m and every resource embedded in it (see
// schemacheck.Validator.Tree), reporting failures against where.
func validateTree(t testing.TB, v *schemacheck.Validator, where string, m any) int {
	t.Helper()
	n, errs := v.Tree(m)
	for _, err := range errs {
		t.Errorf("%s: %v", where, err)
	}
	return n
}

// crawl GETs every URI reachable from start through @odata.id links,
// breadth first, once each, and hands each answer to visit (m is nil for
// a body that is not JSON). It returns how many URIs it read.
func crawl(t testing.TB, h http.Handler, start []string, visit func(uri string, w *httptest.ResponseRecorder, m map[string]any)) int {
	t.Helper()
	return schemacheck.Walk(start, func(uri string) []string {
		w := do(t, h, http.MethodGet, uri)
		var m map[string]any
		if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			m = decode(t, w.Body.Bytes())
		}
		visit(uri, w, m)
		return schemacheck.Links(m)
	})
}

func TestSchemaErrorBodies(t *testing.T) {
	v := schemacheck.NewForTest(t)
	h := newHandler(t, newPlatform(t))
	tests := []struct {
		method, target string
		opt            reqOpt
		status         int
	}{
		{http.MethodGet, "/redfish/v1/Systems", noAuth, http.StatusUnauthorized},
		{http.MethodGet, "/redfish/v1/Systems/7", nil, http.StatusNotFound},
		{http.MethodGet, "/redfish/v1/Nope", nil, http.StatusNotFound},
		{http.MethodPatch, "/redfish/v1/Chassis/1/Sensors", nil, http.StatusMethodNotAllowed},
		{http.MethodPatch, "/redfish/v1/Systems/1", nil, http.StatusBadRequest},
		{http.MethodGet, "/redfish/v1/Systems?$orderby=Id", nil, http.StatusNotImplemented},
		{http.MethodGet, "/redfish/v1/Systems?$filter=Id%20eq", nil, http.StatusBadRequest},
		{http.MethodPatch, "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1", nil, http.StatusBadRequest},
		{http.MethodPatch, "/redfish/v1/AccountService/Accounts/2", basic("reader", "reader-pw"), http.StatusForbidden},
	}
	for _, tt := range tests {
		var opts []reqOpt
		if tt.opt != nil {
			opts = append(opts, tt.opt)
		}
		w := do(t, h, tt.method, tt.target, opts...)
		if w.Code != tt.status {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.target, w.Code, tt.status)
		}
		if err := v.Validate(w.Body.Bytes(), schemacheck.URLPrefix+"redfish-error.v1_0_2.json"); err != nil {
			t.Errorf("%s %s: %v", tt.method, tt.target, err)
		}
	}
	w := do(t, newHandler(t, panickingPlatform{}), http.MethodGet, "/redfish/v1/Systems/1")
	if err := v.Validate(w.Body.Bytes(), schemacheck.URLPrefix+"redfish-error.v1_0_2.json"); err != nil {
		t.Errorf("500: %v", err)
	}
}

// The validator must actually bite: a payload broken in the ways a
// handler could break it has to fail.
func TestSchemaValidatorRejectsBadPayloads(t *testing.T) {
	v := schemacheck.NewForTest(t)
	h := newHandler(t, newPlatform(t))
	good := getJSON(t, h, "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1")
	loc, err := schemacheck.SchemaFor(good["@odata.type"].(string))
	if err != nil {
		t.Fatal(err)
	}
	mutations := map[string]func(m map[string]any){
		"unknown property": func(m map[string]any) { m["Bogus"] = 1 },
		"bad enum":         func(m map[string]any) { m["MemoryDeviceType"] = "DDR9" },
		"wrong type":       func(m map[string]any) { m["CapacityMiB"] = "32768" },
		"missing Id":       func(m map[string]any) { delete(m, "Id") },
		"bad status":       func(m map[string]any) { m["Status"] = map[string]any{"State": "Absent", "Health": "Fine"} },
		"link with extras": func(m map[string]any) {
			m["Links"] = map[string]any{"Processors": []any{map[string]any{"@odata.id": "/x", "Name": "y"}}}
		},
	}
	for name, mutate := range mutations {
		m := decode(t, mustJSON(t, good))
		mutate(m)
		if err := v.Validate(mustJSON(t, m), loc); err == nil {
			t.Errorf("%s: validated", name)
		}
	}
	if err := v.Validate(mustJSON(t, good), loc); err != nil {
		t.Errorf("unmodified payload: %v", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := encodeJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
