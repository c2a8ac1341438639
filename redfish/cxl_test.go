package redfish

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/conformance/schemacheck"
	"github.com/bmcemu/bmcemu/platform/cxl"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/iommu"
)

const (
	cxl1Dev = "/redfish/v1/Chassis/1/PCIeDevices/CXL1"
	cxl2Dev = "/redfish/v1/Chassis/1/PCIeDevices/CXL2"
	cxl3Dev = "/redfish/v1/Chassis/1/PCIeDevices/CXL3"
	cxl1Mem = "/redfish/v1/Systems/1/Memory/CXL1"
	cxl2Mem = "/redfish/v1/Systems/1/Memory/CXL2"
)

// crawlAll GETs everything reachable from the service root, validates each
// payload against the schema its @odata.type names, and returns the
// bodies by URI.
func crawlAll(t *testing.T, v *schemacheck.Validator, h http.Handler) map[string]map[string]any {
	t.Helper()
	got := map[string]map[string]any{}
	crawl(t, h, []string{"/redfish/v1/"}, func(uri string, w *httptest.ResponseRecorder, m map[string]any) {
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: %d %s", uri, w.Code, w.Body)
			return
		}
		if m == nil {
			return
		}
		if m["@odata.id"] != uri {
			t.Errorf("GET %s: @odata.id is %v", uri, m["@odata.id"])
		}
		validateTree(t, v, "GET "+uri, decode(t, w.Body.Bytes()))
		got[uri] = m
	})
	return got
}

func str(t *testing.T, m any, keys ...any) string {
	t.Helper()
	s, _ := path(t, m, keys...).(string)
	return s
}

func linksOf(t *testing.T, m any, keys ...any) []string {
	t.Helper()
	var out []string
	for _, l := range path(t, m, keys...).([]any) {
		out = append(out, l.(map[string]any)["@odata.id"].(string))
	}
	return out
}

// A server without CXL serves nothing of it, and links to none of it.
func TestCXLAbsentWithoutCXL(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	if w := do(t, h, http.MethodGet, "/redfish/v1/Chassis/1/PCIeDevices"); w.Code != http.StatusNotFound {
		t.Errorf("PCIeDevices on a server without CXL: %d", w.Code)
	}
	if _, ok := getJSON(t, h, "/redfish/v1/Chassis/1")["PCIeDevices"]; ok {
		t.Error("Chassis links PCIeDevices on a server without CXL")
	}
	if _, ok := getJSON(t, h, "/redfish/v1/Systems/1")["PCIeDevices"]; ok {
		t.Error("ComputerSystem lists PCIeDevices on a server without CXL")
	}
	for _, m := range members(t, getJSON(t, h, "/redfish/v1/JsonSchemas")) {
		if id := m.(map[string]any)["@odata.id"].(string); strings.HasSuffix(id, "/PCIeDevice") {
			t.Errorf("JsonSchemas lists %s", id)
		}
	}
}

// TestCXLExpanderLifecycle drives the cxl profile's slots through the
// platform and reads each step back through the service: a card seated,
// brought up, refused for want of a window (CXL2) and of a bridge window
// (CXL3), removed in order and pulled; every resource on the way is
// validated against DSP8010, and each step is in the Event log about the
// resource it concerns.
func TestCXLExpanderLifecycle(t *testing.T) {
	v := schemacheck.NewForTest(t)
	p := newProfilePlatform(t, "cxl", nil)
	h := newHandlerCfg(t, p, Config{})

	if got := getJSON(t, h, "/redfish/v1/Chassis/1/PCIeDevices")["Members@odata.count"]; got != 0.0 {
		t.Fatalf("no card seated, PCIeDevices count %v", got)
	}
	total0 := getJSON(t, h, "/redfish/v1/Systems/1")["MemorySummary"].(map[string]any)["TotalSystemMemoryGiB"].(float64)

	if err := p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 256 << 30, Serial: 0xC0FFEE}); err != nil {
		t.Fatal(err)
	}
	dev := getJSON(t, h, cxl1Dev)
	if _, up := dev["PCIeInterface"].(map[string]any)["PCIeType"]; str(t, dev, "Status", "State") != "StandbyOffline" ||
		path(t, dev, "PCIeInterface", "LanesInUse") != 0.0 || up {
		t.Errorf("seated, unpowered: %v / %v", dev["Status"], dev["PCIeInterface"])
	}
	if dev["SerialNumber"] != "00-00-00-00-00-c0-ff-ee" || str(t, dev, "Slot", "Location", "PartLocation", "ServiceLabel") != "CXL1" {
		t.Errorf("identity: %v %v", dev["SerialNumber"], dev["Slot"])
	}
	if m := getJSON(t, h, cxl1Mem); str(t, m, "Status", "State") != "StandbyOffline" || m["CapacityMiB"] != 262144.0 {
		t.Errorf("memory of a seated card: %v", m)
	}
	waitFor(t, "the insertion in the Event log", func() bool {
		return loggedAbout(t, h, cxlRegistry+".ExpanderInserted", cxl1Dev) && loggedAbout(t, h, resourceEventRegistry+".ResourceCreated", cxl1Mem)
	})

	res, err := p.CXLAttention("CXL1")
	if err != nil {
		t.Fatal(err)
	}
	dev = getJSON(t, h, cxl1Dev)
	if str(t, dev, "Status", "State") != "Enabled" || str(t, dev, "Status", "Health") != "OK" {
		t.Errorf("enabled: %v", dev["Status"])
	}
	if path(t, dev, "PCIeInterface", "LanesInUse") != 16.0 || str(t, dev, "PCIeInterface", "PCIeType") != "Gen5" {
		t.Errorf("link: %v", dev["PCIeInterface"])
	}
	if str(t, dev, "CXLDevice", "DeviceType") != "Type3" {
		t.Errorf("CXLDevice %v", dev["CXLDevice"])
	}
	fn := getJSON(t, h, linksOf(t, dev, "Links", "PCIeFunctions")[0])
	if fn["ClassCode"] != "0x050210" || fn["VendorId"] != "0x8086" || fn["DeviceId"] != "0x0D93" ||
		fn["FunctionType"] != "Physical" || fn["DeviceClass"] != "MemoryController" || fn["BusNumber"] != "0x31" {
		t.Errorf("function 0: %v", fn)
	}
	ld := getJSON(t, h, str(t, fn, "Links", "CXLLogicalDevice", "@odata.id"))
	if ld["MemorySizeMiB"] != 262144.0 || str(t, ld, "Identifiers", 0, "DurableName") != "00-00-00-00-00-c0-ff-ee:0000" {
		t.Errorf("logical device: %v", ld)
	}
	regions := members(t, getJSON(t, h, str(t, ld, "MemoryRegions", "@odata.id")))
	if len(regions) != 1 {
		t.Fatalf("regions after enable: %v", regions)
	}
	regionURI := regions[0].(map[string]any)["@odata.id"].(string)
	rg := getJSON(t, h, regionURI)
	if rg["Id"] != res.Region || rg["RegionSizeMiB"] != 262144.0 || rg["RegionType"] != "Static" ||
		!strings.Contains(rg["Description"].(string), "NUMA node 2") {
		t.Errorf("region: %v", rg)
	}
	mem := getJSON(t, h, cxl1Mem)
	if str(t, mem, "Status", "State") != "Enabled" || linksOf(t, mem, "Links", "MemoryRegionMediaSources")[0] != regionURI {
		t.Errorf("memory after enable: %v", mem)
	}
	sys := getJSON(t, h, "/redfish/v1/Systems/1")
	if got := sys["MemorySummary"].(map[string]any)["TotalSystemMemoryGiB"].(float64); got != total0+256 {
		t.Errorf("TotalSystemMemoryGiB %v, want %v + 256 GiB online from CXL1", got, total0)
	}
	if l := linksOf(t, sys, "PCIeDevices"); len(l) != 1 || l[0] != cxl1Dev {
		t.Errorf("system PCIeDevices %v", l)
	}
	waitFor(t, "the enable in the Event log", func() bool {
		return loggedAbout(t, h, cxlRegistry+".ExpanderEnabled", cxl1Dev) && loggedAbout(t, h, resourceEventRegistry+".ResourceStateChanged", cxl1Mem)
	})

	// CXL2's host bridge has no CFMWS: the drivers bind, the memory is
	// refused.
	if err := p.CXLInsert("CXL2", cxl.DeviceSpec{Capacity: 64 << 30, Serial: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CXLAttention("CXL2"); !errors.Is(err, cxl.ErrNoWindow) {
		t.Fatalf("CXL2 attention: %v", err)
	}
	dev2 := getJSON(t, h, cxl2Dev)
	if str(t, dev2, "Status", "Health") != "Warning" || str(t, dev2, "Status", "Conditions", 0, "MessageId") != cxlRegistry+".ExpanderRefused" ||
		!strings.Contains(str(t, dev2, "Status", "Conditions", 0, "Message"), "CFMWS") {
		t.Errorf("refused CXL2: %v", dev2["Status"])
	}
	if m := getJSON(t, h, cxl2Mem); str(t, m, "Status", "State") != "UnavailableOffline" || str(t, m, "Status", "Health") != "Warning" {
		t.Errorf("CXL2 memory: %v", m["Status"])
	}
	// CXL3's root port has no bridge window: no driver binds at all.
	if err := p.CXLInsert("CXL3", cxl.DeviceSpec{Capacity: 64 << 30, Serial: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CXLAttention("CXL3"); !errors.Is(err, cxl.ErrNotRecognized) {
		t.Fatalf("CXL3 attention: %v", err)
	}
	if d := getJSON(t, h, cxl3Dev); str(t, d, "Status", "State") != "UnavailableOffline" || str(t, d, "Status", "Health") != "Warning" {
		t.Errorf("refused CXL3: %v", d["Status"])
	}
	waitFor(t, "the refusals in the Event log", func() bool {
		return loggedAbout(t, h, cxlRegistry+".ExpanderRefused", cxl2Dev) && loggedAbout(t, h, cxlRegistry+".ExpanderRefused", cxl3Dev)
	})

	// A device reaching outside what it was given.
	var f *iommu.Fault
	if err := p.CXLDMAAccess("CXL1", 0x1000, 64, true); !errors.As(err, &f) {
		t.Fatalf("rogue DMA: %v", err)
	}
	waitFor(t, "the blocked DMA in the Event log", func() bool { return loggedAbout(t, h, cxlRegistry+".DMABlocked", cxl1Dev) })

	got := crawlAll(t, v, h)
	for _, uri := range []string{cxl1Dev, cxl2Dev, cxl3Dev, cxl1Mem, cxl2Mem, regionURI, cxl1Dev + "/PCIeFunctions/0",
		cxl1Dev + "/CXLLogicalDevices/LD0", cxl2Dev + "/CXLLogicalDevices/LD0/MemoryRegions"} {
		if got[uri] == nil {
			t.Errorf("the crawl never reached %s", uri)
		}
	}
	// JsonSchemas lists exactly the types this server serves.
	seen := map[string]bool{}
	for _, m := range got {
		if typ, ok := m["@odata.type"].(string); ok {
			seen[typ] = true
		}
	}
	for _, typ := range cxlTypes {
		if !seen[typ] {
			t.Errorf("crawl never met %s", typ)
		}
		name, _ := schemaOf(typ)
		if got[pathJSONSchemas+"/"+name] == nil {
			t.Errorf("JsonSchemas lacks %s", name)
		}
	}

	// The same resources expanded: each embedded one validated on its own.
	for _, target := range []string{"/redfish/v1/Chassis/1/PCIeDevices?$expand=.($levels=3)", "/redfish/v1/Chassis/1?$expand=.($levels=2)",
		"/redfish/v1/Systems/1/Memory?$expand=.", "/redfish/v1/Systems/1?$expand=.",
		"/redfish/v1/Systems/1/Memory?$filter=Status/State%20eq%20'UnavailableOffline'&$expand=."} {
		w := do(t, h, http.MethodGet, target)
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: %d %s", target, w.Code, w.Body)
			continue
		}
		if n := validateTree(t, v, target, decode(t, w.Body.Bytes())); n < 2 {
			t.Errorf("GET %s: validated only %d resources", target, n)
		}
	}
	// Both refused cards' memory, and no DIMM.
	if m := members(t, getJSON(t, h, "/redfish/v1/Systems/1/Memory?$filter=Status/State%20eq%20'UnavailableOffline'")); len(m) != 2 ||
		m[0].(map[string]any)["@odata.id"] != cxl2Mem || m[1].(map[string]any)["@odata.id"] != "/redfish/v1/Systems/1/Memory/CXL3" {
		t.Errorf("Memory filtered by UnavailableOffline: %v", m)
	}

	// Orderly removal: the memory goes offline, the region away.
	if _, err := p.CXLAttention("CXL1"); err != nil {
		t.Fatal(err)
	}
	if d := getJSON(t, h, cxl1Dev); str(t, d, "Status", "State") != "StandbyOffline" {
		t.Errorf("after orderly removal: %v", d["Status"])
	}
	if w := do(t, h, http.MethodGet, regionURI); w.Code != http.StatusNotFound {
		t.Errorf("region after removal: %d", w.Code)
	}
	if _, ok := getJSON(t, h, cxl1Mem)["Links"].(map[string]any)["MemoryRegionMediaSources"]; ok {
		t.Error("memory still names a region after removal")
	}
	if _, err := p.CXLPull("CXL1"); err != nil {
		t.Fatal(err)
	}
	for _, uri := range []string{cxl1Dev, cxl1Mem, cxl1Dev + "/PCIeFunctions/0"} {
		if w := do(t, h, http.MethodGet, uri); w.Code != http.StatusNotFound {
			t.Errorf("GET %s after pull: %d", uri, w.Code)
		}
	}
	waitFor(t, "the removal in the Event log", func() bool {
		return loggedAbout(t, h, cxlRegistry+".ExpanderDisabled", cxl1Dev) && loggedAbout(t, h, resourceEventRegistry+".ResourceRemoved", cxl1Dev)
	})
	if got := getJSON(t, h, "/redfish/v1/Systems/1")["MemorySummary"].(map[string]any)["TotalSystemMemoryGiB"].(float64); got != total0 {
		t.Errorf("TotalSystemMemoryGiB after removal %v, want %v", got, total0)
	}
	// An expander's memory is not written through Redfish.
	if w := do(t, h, http.MethodPatch, cxl2Mem, withBody(`{"LocationIndicatorActive":true}`)); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("PATCH expander memory: %d %s", w.Code, w.Body)
	}
}

// The CXL registry is served, is a valid MessageRegistry, and every
// message carries MessageSeverity and the same Severity.
func TestCXLRegistry(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	f := getJSON(t, h, "/redfish/v1/Registries/BmcemuCXL")
	if f["Registry"] != cxlRegistry {
		t.Fatalf("registry file %v", f)
	}
	reg := getJSON(t, h, path(t, f, "Location", 0, "Uri").(string))
	if reg["RegistryPrefix"] != cxlPrefix || path(t, reg, "Messages", "ExpanderRefused", "NumberOfArgs") != 2.0 {
		t.Errorf("CXL registry %v", reg)
	}
	v := schemacheck.NewForTest(t)
	loc, _ := schemacheck.SchemaFor(typeMessageRegistry)
	if err := v.Validate(cxlRegistryJSON, loc); err != nil {
		t.Error(err)
	}
	for id, m := range reg["Messages"].(map[string]any) {
		m := m.(map[string]any)
		if m["Severity"] != m["MessageSeverity"] || m["MessageSeverity"] == nil {
			t.Errorf("%s: Severity %v, MessageSeverity %v", id, m["Severity"], m["MessageSeverity"])
		}
	}
}

// Each CXL step names the resource it is about, and an operation the
// table does not know still goes out about the slot's device.
func TestTranslateCXL(t *testing.T) {
	for _, tt := range []struct {
		ev      events.Event
		ids     []string
		origins []string
	}{
		{events.CXLDeviceChanged{Slot: "CXL1", Op: "inserted", Node: -1},
			[]string{cxlRegistry + ".ExpanderInserted", resourceEventRegistry + ".ResourceCreated", resourceEventRegistry + ".ResourceCreated"},
			[]string{cxl1Dev, cxl1Dev, cxl1Mem}},
		{events.CXLDeviceChanged{Slot: "CXL2", Op: "refused", Node: -1, Reason: "no window"},
			[]string{cxlRegistry + ".ExpanderRefused", resourceEventRegistry + ".ResourceStatusChangedWarning", resourceEventRegistry + ".ResourceStateChanged"},
			[]string{cxl2Dev, cxl2Dev, cxl2Mem}},
		{events.CXLDeviceChanged{Slot: "CXL1", Op: "surprise", Node: 2, Poisoned: 3, Leaked: 1 << 30},
			[]string{cxlRegistry + ".ExpanderSurpriseRemoval", resourceEventRegistry + ".ResourceRemoved", resourceEventRegistry + ".ResourceRemoved"},
			[]string{cxl1Dev, cxl1Dev, cxl1Mem}},
		{events.IOMMUFault{Slot: "CXL1", BDF: "0000:31:00.0", Addr: 0x1000, Reason: "fault"},
			[]string{cxlRegistry + ".DMABlocked"}, []string{cxl1Dev}},
		{events.CXLDeviceChanged{Slot: "CXL1", Op: "something-new", Node: -1},
			[]string{oemRegistry + ".PlatformEvent"}, []string{cxl1Dev}},
	} {
		specs := translate(tt.ev)
		if len(specs) != len(tt.ids) {
			t.Errorf("%+v: %d events, want %d: %+v", tt.ev, len(specs), len(tt.ids), specs)
			continue
		}
		for i, sp := range specs {
			if sp.id != tt.ids[i] || sp.origin != tt.origins[i] {
				t.Errorf("%+v [%d]: %s about %s, want %s about %s", tt.ev, i, sp.id, sp.origin, tt.ids[i], tt.origins[i])
			}
		}
	}
	sp := translate(events.CXLDeviceChanged{Slot: "CXL2", Op: "refused", Reason: "no CFMWS targets it"})[0]
	if msg := formatMessage(eventMessages[sp.id].text, sp.args); !strings.Contains(msg, "CXL2") || !strings.Contains(msg, "no CFMWS targets it") {
		t.Errorf("refusal message %q", msg)
	}
}

// An SSE client sees an expander go in, come up, be refused, block a DMA
// and be pulled, each about its PCIeDevice or Memory; a push subscriber
// for PCIeDevice events gets the device's and nothing about the memory.
func TestCXLEventsStreamedAndPushed(t *testing.T) {
	p := newProfilePlatform(t, "cxl", nil)
	h := newHandlerCfg(t, p, fastRetries())
	c := newCollector(t, nil)
	subscribe(t, h, `{"Destination":"`+c.srv.URL+`/events","Protocol":"Redfish","ResourceTypes":["PCIeDevice"]}`)
	sse := newSSERecorder(t, h)

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 8 << 30}))
	_, err := p.CXLAttention("CXL1")
	must(err)
	must(p.CXLInsert("CXL2", cxl.DeviceSpec{Capacity: 8 << 30}))
	if _, err := p.CXLAttention("CXL2"); err == nil {
		t.Fatal("CXL2 came up without a window")
	}
	if err := p.CXLDMAAccess("CXL1", 0x1000, 64, false); err == nil {
		t.Fatal("a DMA outside the device's mappings went through")
	}
	_, err = p.CXLPull("CXL1") // powered: a surprise removal
	must(err)

	cxlID := func(name string) string { return cxlRegistry + "." + name }
	want := []eventWant{
		{cxlID("ExpanderInserted"), cxl1Dev}, {resEventID("ResourceCreated"), cxl1Mem},
		{cxlID("ExpanderEnabled"), cxl1Dev}, {resEventID("ResourceStateChanged"), cxl1Mem},
		{cxlID("ExpanderRefused"), cxl2Dev}, {resEventID("ResourceStateChanged"), cxl2Mem},
		{cxlID("DMABlocked"), cxl1Dev},
		{cxlID("ExpanderSurpriseRemoval"), cxl1Dev}, {resEventID("ResourceRemoved"), cxl1Mem},
	}
	sse.expect(t, want...)
	var devOnly []eventWant
	for _, w := range want {
		if strings.HasPrefix(w.origin, pcieDevicesPath()+"/") {
			devOnly = append(devOnly, w)
		}
	}
	waitFor(t, "the surprise removal pushed", func() bool { return ordered(pushed(c), devOnly...) })
	for _, w := range pushed(c) {
		if !strings.HasPrefix(w.origin, pcieDevicesPath()+"/") {
			t.Errorf("a PCIeDevice subscription got %v", w)
		}
	}
}

// $metadata of a CXL server includes the namespaces of the PCIe and CXL
// types it serves (DSP0266 clause 6.5), each from a DSP8010 CSDL file that
// defines it; a server without CXL references none of them.
func TestCXLMetadata(t *testing.T) {
	p := newProfilePlatform(t, "cxl", nil)
	if err := p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 8 << 30}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CXLAttention("CXL1"); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, p)
	types := map[string]string{}
	crawl(t, h, []string{pcieDevicesPath()}, func(uri string, _ *httptest.ResponseRecorder, m map[string]any) {
		if m != nil && strings.HasPrefix(uri, pcieDevicesPath()) {
			collectTypes(m, types, uri)
		}
	})
	included := metadataIncludes(t, h)
	for _, typ := range cxlTypes {
		if types[typ] == "" {
			t.Errorf("crawl never met %s", typ)
		}
		parts := strings.Split(strings.TrimPrefix(typ, "#"), ".")
		wants := []string{parts[0]}
		if len(parts) == 3 {
			wants = append(wants, parts[0]+"."+parts[1])
		}
		for _, want := range wants {
			uri, ok := included[want]
			if !ok {
				t.Errorf("%s: $metadata does not include %s", typ, want)
				continue
			}
			b, err := os.ReadFile(filepath.Join(filepath.Dir(schemacheck.NeedDir(t)), "csdl", strings.TrimPrefix(uri, schemacheck.URLPrefix)))
			if err != nil {
				t.Errorf("%s: %v", want, err)
				continue
			}
			defined := false
			for _, s := range parseEDMX(t, b).Schemas {
				defined = defined || s.Namespace == want
			}
			if !defined {
				t.Errorf("%s does not define %s", uri, want)
			}
		}
	}
	for ns := range metadataIncludes(t, newHandler(t, newPlatform(t))) {
		if strings.HasPrefix(ns, "PCIe") || strings.HasPrefix(ns, "CXL") || strings.HasPrefix(ns, "MemoryRegion") {
			t.Errorf("$metadata of a server without CXL includes %s", ns)
		}
	}
}
