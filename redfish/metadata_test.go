package redfish

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/conformance/schemacheck"
)

// edmx is the part of a CSDL document these tests read: the references of
// $metadata, and the schemas a DMTF CSDL file defines.
type edmx struct {
	References []struct {
		URI      string `xml:"Uri,attr"`
		Includes []struct {
			Namespace string `xml:"Namespace,attr"`
		} `xml:"Include"`
	} `xml:"Reference"`
	Schemas []struct {
		Namespace string `xml:"Namespace,attr"`
	} `xml:"DataServices>Schema"`
}

func parseEDMX(t *testing.T, b []byte) edmx {
	t.Helper()
	var doc edmx
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("parse CSDL: %v", err)
	}
	return doc
}

// metadataIncludes maps each namespace $metadata includes to its file.
func metadataIncludes(t *testing.T, h http.Handler) map[string]string {
	t.Helper()
	w := do(t, h, http.MethodGet, pathMetadata)
	if w.Code != http.StatusOK {
		t.Fatalf("GET $metadata: %d", w.Code)
	}
	out := map[string]string{}
	for _, r := range parseEDMX(t, w.Body.Bytes()).References {
		for _, in := range r.Includes {
			out[in.Namespace] = r.URI
		}
	}
	return out
}

// collectTypes adds every @odata.type in v, at any depth.
func collectTypes(v any, types map[string]string, where string) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && k == "@odata.type" {
				types[s] = where
				continue
			}
			collectTypes(e, types, where)
		}
	case []any:
		for _, e := range v {
			collectTypes(e, types, where)
		}
	}
}

// DSP0266 clause 6.5: $metadata references the schema namespaces of every
// resource type the service implements. Redfish-Service-Validator 3 does
// not check this (it only uses $metadata to fetch schema files), so this
// crawls the service and requires, for each @odata.type met (resources,
// embedded Messages, the OEM registry file, pushed Events), both its
// versioned namespace and the unversioned one that declares the entity.
func TestMetadataIncludesServedTypes(t *testing.T) {
	p := newPlatform(t)
	h := newHandlerCfg(t, p, Config{SEL: newSEL(t)})
	subscribe(t, h, `{"Destination":"http://127.0.0.1:9/metadata","Protocol":"Redfish"}`)
	login(t, h, "reader", "reader-pw")

	types := map[string]string{typeEvent: "event payloads"}
	n := crawl(t, h, []string{pathRootCanonical, "/redfish/v1/Registries/BmcemuMemory/BmcemuMemory.1.1.0",
		// An error body, for the Message type in @Message.ExtendedInfo.
		"/redfish/v1/Systems/1/Memory/NoSuchSlot"},
		func(uri string, _ *httptest.ResponseRecorder, m map[string]any) {
			if m != nil {
				collectTypes(m, types, uri)
			}
		})
	if n < 40 {
		t.Fatalf("crawled only %d URIs", n)
	}

	included := metadataIncludes(t, h)
	for typ, where := range types {
		// "#Memory.v1_23_0.Memory" needs Memory and Memory.v1_23_0;
		// "#MemoryCollection.MemoryCollection" only MemoryCollection.
		parts := strings.Split(strings.TrimPrefix(typ, "#"), ".")
		wants := []string{parts[0]}
		if len(parts) == 3 {
			wants = append(wants, parts[0]+"."+parts[1])
		}
		for _, want := range wants {
			if _, ok := included[want]; !ok {
				t.Errorf("%s (at %s): $metadata does not include namespace %s", typ, where, want)
			}
		}
	}
}

// Every $metadata reference names a DSP8010 CSDL file that defines each
// namespace included from it, so a client resolving $metadata against the
// published schemas finds everything.
func TestMetadataReferencesExistInDSP8010(t *testing.T) {
	csdl := filepath.Join(filepath.Dir(schemacheck.NeedDir(t)), "csdl")
	h := newHandler(t, newPlatform(t))
	byFile := map[string][]string{}
	for ns, uri := range metadataIncludes(t, h) {
		byFile[uri] = append(byFile[uri], ns)
	}
	for uri, nss := range byFile {
		file, ok := strings.CutPrefix(uri, schemacheck.URLPrefix)
		if !ok {
			t.Errorf("reference %s is not a DMTF schema URI", uri)
			continue
		}
		b, err := os.ReadFile(filepath.Join(csdl, file))
		if err != nil {
			t.Errorf("reference %s: %v", uri, err)
			continue
		}
		defined := map[string]bool{}
		for _, s := range parseEDMX(t, b).Schemas {
			defined[s.Namespace] = true
		}
		for _, ns := range nss {
			if !defined[ns] {
				t.Errorf("%s does not define namespace %s", file, ns)
			}
		}
	}
}

// DSP0266 clause 6.6: the OData service document's value holds the service
// root and every resource that is a direct child of it (the validators
// only check its shape). Every link at the top of the service root must
// be there, under the property's name.
func TestODataServiceDocumentListsRootChildren(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	entries := map[string]string{}
	for _, e := range path(t, getJSON(t, h, pathODataDoc), "value").([]any) {
		e := e.(map[string]any)
		if e["kind"] != "Singleton" {
			t.Errorf("entry %v: kind is not Singleton", e)
		}
		entries[e["name"].(string)] = e["url"].(string)
	}
	want := map[string]string{"Service": pathRootCanonical, "Sessions": pathSessions}
	for k, v := range getJSON(t, h, pathRootCanonical) {
		if l, ok := v.(map[string]any); ok && len(l) == 1 && l["@odata.id"] != nil {
			want[k] = l["@odata.id"].(string)
		}
	}
	if len(want) < 8 {
		t.Fatalf("service root has only %v", want)
	}
	for name, url := range want {
		if entries[name] != url {
			t.Errorf("service document: %s is %q, want %q", name, entries[name], url)
		}
	}
	if len(entries) != len(want) {
		t.Errorf("service document has %v, want %v", entries, want)
	}
}
