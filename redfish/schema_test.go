package redfish

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const schemaURLPrefix = "http://redfish.dmtf.org/schemas/v1/"

// schemaDir finds the DMTF JSON schemas: $REDFISH_SCHEMA_DIR, or the shared
// checkout beside the repository (../shared/redfish-schema/json-schema from
// the module root). They are not vendored: DSP8010 is large and has its
// own licence.
func schemaDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("REDFISH_SCHEMA_DIR")
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			t.Fatalf("find module root: %v", err)
		}
		dir = filepath.Join(root, "..", "shared", "redfish-schema", "json-schema")
	}
	if _, err := os.Stat(filepath.Join(dir, "ServiceRoot.json")); err != nil {
		msg := fmt.Sprintf("DMTF JSON schemas not found in %s (set REDFISH_SCHEMA_DIR): %v", dir, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("getwd: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// swordfishPrefix is where SNIA Swordfish publishes the storage schemas
// some DMTF properties point at. DSP8010 does not ship them; see stub.
const swordfishPrefix = "http://redfish.dmtf.org/schemas/swordfish/v1/"

// schemaLoader serves http://redfish.dmtf.org/schemas/v1/<file> from dir,
// so validation never touches the network.
type schemaLoader struct {
	dir       string
	swordfish map[string][]string // built on first use
}

func (l *schemaLoader) Load(url string) (any, error) {
	if strings.HasPrefix(url, swordfishPrefix) {
		return l.stub(url)
	}
	name, ok := strings.CutPrefix(url, schemaURLPrefix)
	if !ok || !fs.ValidPath(name) {
		return nil, fmt.Errorf("schema %s: outside %s", url, schemaURLPrefix)
	}
	f, err := os.Open(filepath.Join(l.dir, filepath.FromSlash(name)))
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", url, err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", url, err)
	}
	if !strings.Contains(name, ".v") {
		referencesOnly(doc)
	}
	return doc, nil
}

// referencesOnly trims an unversioned schema's resource definitions,
// anyOf [idRef, X.v1_0_0, ..., X.v1_N_0], to anyOf [idRef].
//
// Why: every version of every resource refers to others through these
// definitions, so compiling one schema otherwise drags in all of DSP8010,
// which the compiler handles in minutes. The payloads validated here embed
// other resources only as links ({"@odata.id"}), which idRef checks
// exactly; the resource itself is validated against its versioned schema
// directly. Collections (anyOf [idRef, {inline}]) and complex types are
// left as published.
func referencesOnly(doc any) {
	root, _ := doc.(map[string]any)
	defs, _ := root["definitions"].(map[string]any)
	for _, d := range defs {
		def, _ := d.(map[string]any)
		anyOf, _ := def["anyOf"].([]any)
		if len(anyOf) < 2 || refOf(anyOf[0]) != schemaURLPrefix+"odata-v4.json#/definitions/idRef" {
			continue
		}
		versioned := true
		for _, alt := range anyOf[1:] {
			versioned = versioned && strings.Contains(refOf(alt), ".v1_")
		}
		if versioned {
			def["anyOf"] = anyOf[:1]
		}
	}
}

func refOf(v any) string {
	m, _ := v.(map[string]any)
	ref, _ := m["$ref"].(string)
	return ref
}

// stub stands in for a Swordfish schema with a permissive definition for
// every name the DMTF schemas reference in it. The service serves no
// storage resources, so only properties it never emits are left unchecked.
func (l *schemaLoader) stub(url string) (any, error) {
	if l.swordfish == nil {
		if err := l.indexSwordfish(); err != nil {
			return nil, fmt.Errorf("schema %s: %w", url, err)
		}
	}
	defs := map[string]any{}
	for _, name := range l.swordfish[url] {
		defs[name] = map[string]any{}
	}
	return map[string]any{
		"$schema":     "http://json-schema.org/draft-07/schema#",
		"$id":         url,
		"definitions": defs,
	}, nil
}

// indexSwordfish records, per Swordfish file, the definitions referenced.
func (l *schemaLoader) indexSwordfish() error {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("index swordfish refs: %w", err)
	}
	l.swordfish = map[string][]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(l.dir, e.Name()))
		if err != nil {
			return fmt.Errorf("index swordfish refs: %w", err)
		}
		for rest := string(b); ; {
			_, after, ok := strings.Cut(rest, swordfishPrefix)
			if !ok {
				break
			}
			ref, _, _ := strings.Cut(after, `"`)
			file, name, _ := strings.Cut(ref, "#/definitions/")
			l.swordfish[swordfishPrefix+file] = append(l.swordfish[swordfishPrefix+file], name)
			rest = after
		}
	}
	return nil
}

// validator compiles schemas on demand and caches them per test.
type validator struct {
	c     *jsonschema.Compiler
	cache map[string]*jsonschema.Schema
}

func newValidator(t *testing.T) *validator {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.UseLoader(&schemaLoader{dir: schemaDir(t)})
	// Every DMTF schema names redfish-schema-v1.json as its meta-schema.
	// It is draft-07 plus annotation keywords (readonly, longDescription,
	// ...) that do not constrain instances, so draft-07 stands in for it.
	meta := map[string]any{
		"$schema": "http://json-schema.org/draft-07/schema#",
		"$id":     schemaURLPrefix + "redfish-schema-v1.json",
		"$ref":    "http://json-schema.org/draft-07/schema#",
	}
	if err := c.AddResource(schemaURLPrefix+"redfish-schema-v1.json", meta); err != nil {
		t.Fatalf("add meta-schema: %v", err)
	}
	return &validator{c: c, cache: map[string]*jsonschema.Schema{}}
}

func (v *validator) schema(loc string) (*jsonschema.Schema, error) {
	if s, ok := v.cache[loc]; ok {
		return s, nil
	}
	s, err := v.c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", loc, err)
	}
	v.cache[loc] = s
	return s, nil
}

// schemaFor maps "#Memory.v1_23_0.Memory" to Memory.v1_23_0.json's Memory
// definition and "#MemoryCollection.MemoryCollection" to
// MemoryCollection.json's.
func schemaFor(odataType string) (string, error) {
	t, ok := strings.CutPrefix(odataType, "#")
	i := strings.LastIndex(t, ".")
	if !ok || i <= 0 {
		return "", fmt.Errorf("malformed @odata.type %q", odataType)
	}
	return schemaURLPrefix + t[:i] + ".json#/definitions/" + t[i+1:], nil
}

func (v *validator) validate(body []byte, loc string) error {
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(body)))
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	s, err := v.schema(loc)
	if err != nil {
		return err
	}
	if err := s.Validate(inst); err != nil {
		return fmt.Errorf("against %s: %w", loc, err)
	}
	return nil
}

// TestSchemaCrawl walks every resource reachable from the service root and
// validates each against the DMTF schema its @odata.type names.
func TestSchemaCrawl(t *testing.T) {
	v := newValidator(t)
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
		if _, err := schemaFor(typ); err != nil {
			t.Errorf("GET %s: %v", uri, err)
			return
		}
		if m["@odata.id"] != uri {
			t.Errorf("GET %s: @odata.id is %v", uri, m["@odata.id"])
		}
		// Logs embed their entries: each is validated on its own, the
		// collection with references in their place.
		validateTree(t, v, "GET "+uri, decode(t, w.Body.Bytes()), true)
		types[typ]++
	})
	if n < 40 {
		t.Errorf("crawled only %d resources: %v", n, types)
	}
	for _, typ := range []string{typeRegistryFile, typeRegistryFileColl, typeEventService, typeEventDestination, typeEventDestinationColl, typeLogService, typeLogServiceCollection, typeLogEntryCollection, typeLogEntry, typeSession, typeAccountService, typeManagerAccount, typeRole, typeRoleCollection, typeAccountCollection, typeSessionService, typeMemoryMetrics,
		typeSensorCollection, typeSensor, typeEnvironmentMetrics, typeJSONSchemaFileColl, typeJSONSchemaFile,
		typeTaskService, typeTaskCollection, typeTask,
		typeMemoryDomainCollection, typeMemoryDomain, typeMemoryChunksCollection, typeMemoryChunks} {
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
	listed := map[string]bool{}
	for _, mem := range members(t, getJSON(t, h, "/redfish/v1/JsonSchemas")) {
		l := mem.(map[string]any)["@odata.id"].(string)
		f := getJSON(t, h, l)
		listed[f["Schema"].(string)] = true
		_, file := schemaOf(f["Schema"].(string))
		if got := path(t, f, "Location", 0, "PublicationUri"); got != schemaURLPrefix+file {
			t.Errorf("%s: PublicationUri %v", l, got)
		}
		if _, err := os.Stat(filepath.Join(schemaDir(t), file)); err != nil {
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
		"/redfish/v1/Chassis/1?$expand=.($levels=2)", "/redfish/v1/Systems/1/Memory/CPU1_DIMM_C2?$expand=.", "/redfish/v1/JsonSchemas?$expand=.",
	} {
		w := do(t, h, http.MethodGet, target)
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: %d %s", target, w.Code, w.Body)
			continue
		}
		expanded += validateTree(t, v, target, decode(t, w.Body.Bytes()), true)
	}
	t.Logf("validated %d resources inside expanded payloads", expanded)
}

// Every event a platform fact produces is a valid Event payload.
func TestSchemaEventPayloads(t *testing.T) {
	v := newValidator(t)
	loc, _ := schemaFor(typeEvent)
	h := newEventHub(0, nil)
	n := 0
	for _, e := range sampleEvents() {
		for _, spec := range translate(e) {
			ev := h.publish(time.Unix(1700000000, 0), spec)
			if err := v.validate(mustJSON(t, eventPayload(ev, "ctx")), loc); err != nil {
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

// validateTree validates every resource (an object with @odata.type and
// @odata.id) inside m on its own, innermost first, replacing each by its
// reference so its container validates as it would unexpanded.
func validateTree(t *testing.T, v *validator, where string, m any, top bool) int {
	t.Helper()
	n := 0
	switch x := m.(type) {
	case map[string]any:
		for k, e := range x {
			n += validateTree(t, v, where, e, false)
			if em, ok := e.(map[string]any); ok && isResource(em) {
				x[k] = map[string]any{"@odata.id": em["@odata.id"]}
			}
		}
		if top || isResource(x) {
			typ, _ := x["@odata.type"].(string)
			loc, err := schemaFor(typ)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				return n
			}
			if err := v.validate(mustJSON(t, x), loc); err != nil {
				t.Errorf("%s: embedded %v: %v", where, x["@odata.id"], err)
			}
			n++
		}
	case []any:
		for i, e := range x {
			n += validateTree(t, v, where, e, false)
			if em, ok := e.(map[string]any); ok && isResource(em) {
				x[i] = map[string]any{"@odata.id": em["@odata.id"]}
			}
		}
	}
	return n
}

func isResource(m map[string]any) bool {
	_, id := m["@odata.id"]
	_, typ := m["@odata.type"]
	return id && typ
}

// odataIDs collects every @odata.id below the top level, without fragments.
// crawl GETs every URI reachable from start through @odata.id links,
// breadth first, once each, and hands each answer to visit (m is nil for
// a body that is not JSON). It returns how many URIs it read.
func crawl(t testing.TB, h http.Handler, start []string, visit func(uri string, w *httptest.ResponseRecorder, m map[string]any)) int {
	t.Helper()
	seen := map[string]bool{}
	queue := slices.Clone(start)
	for len(queue) > 0 {
		uri := queue[0]
		queue = queue[1:]
		if seen[uri] {
			continue
		}
		seen[uri] = true
		w := do(t, h, http.MethodGet, uri)
		var m map[string]any
		if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			m = decode(t, w.Body.Bytes())
			queue = append(queue, odataIDs(m)...)
		}
		visit(uri, w, m)
	}
	return len(seen)
}

func odataIDs(v any) []string {
	var out []string
	var walk func(v any, top bool)
	walk = func(v any, top bool) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && k == "@odata.id" && !top && !strings.Contains(s, "#") {
					out = append(out, s)
					continue
				}
				walk(e, false)
			}
		case []any:
			for _, e := range v {
				walk(e, false)
			}
		}
	}
	walk(v, true)
	return out
}

func TestSchemaErrorBodies(t *testing.T) {
	v := newValidator(t)
	h := newHandler(t, newPlatform(t))
	tests := []struct {
		method, target string
		opt            reqOpt
		status         int
	}{
		{http.MethodGet, "/redfish/v1/Systems", noAuth, http.StatusUnauthorized},
		{http.MethodGet, "/redfish/v1/Systems/7", nil, http.StatusNotFound},
		{http.MethodGet, "/redfish/v1/Nope", nil, http.StatusNotFound},
		{http.MethodPatch, "/redfish/v1/Chassis/1", nil, http.StatusMethodNotAllowed},
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
		if err := v.validate(w.Body.Bytes(), schemaURLPrefix+"redfish-error.v1_0_2.json"); err != nil {
			t.Errorf("%s %s: %v", tt.method, tt.target, err)
		}
	}
	w := do(t, newHandler(t, panickingPlatform{}), http.MethodGet, "/redfish/v1/Systems/1")
	if err := v.validate(w.Body.Bytes(), schemaURLPrefix+"redfish-error.v1_0_2.json"); err != nil {
		t.Errorf("500: %v", err)
	}
}

// The validator must actually bite: a payload broken in the ways a
// handler could break it has to fail.
func TestSchemaValidatorRejectsBadPayloads(t *testing.T) {
	v := newValidator(t)
	h := newHandler(t, newPlatform(t))
	good := getJSON(t, h, "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1")
	loc, err := schemaFor(good["@odata.type"].(string))
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
		if err := v.validate(mustJSON(t, m), loc); err == nil {
			t.Errorf("%s: validated", name)
		}
	}
	if err := v.validate(mustJSON(t, good), loc); err != nil {
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
