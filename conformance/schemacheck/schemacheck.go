// Package schemacheck validates Redfish payloads against the DMTF JSON
// schemas (DSP8010) kept outside the repository, and walks a service's
// @odata.id links. Both the in-process tests in package redfish and the
// live-binary suite in conformance use it, so the two check the same way.
package schemacheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// URLPrefix is where DMTF publishes the schemas; every $ref and @odata.type
// resolves below it.
const URLPrefix = "http://redfish.dmtf.org/schemas/v1/"

// swordfishPrefix is where SNIA Swordfish publishes the storage schemas
// some DMTF properties point at. DSP8010 does not ship them; see stub.
const swordfishPrefix = "http://redfish.dmtf.org/schemas/swordfish/v1/"

// Dir finds the DMTF JSON schemas: $REDFISH_SCHEMA_DIR, or the shared
// checkout beside the repository (../shared/redfish-schema/json-schema from
// the module root). They are not vendored: DSP8010 is large and has its own
// licence. The error says where it looked and how to point elsewhere.
func Dir() (string, error) {
	dir := os.Getenv("REDFISH_SCHEMA_DIR")
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", fmt.Errorf("locate DMTF JSON schemas: %w", err)
		}
		dir = filepath.Join(root, "..", "shared", "redfish-schema", "json-schema")
	}
	if _, err := os.Stat(filepath.Join(dir, "ServiceRoot.json")); err != nil {
		return "", fmt.Errorf("DMTF JSON schemas not found in %s (set REDFISH_SCHEMA_DIR to DSP8010's json-schema folder): %w", dir, err)
	}
	return dir, nil
}

// NeedDir is Dir for tests. CI must have the schemas, so there a missing
// folder fails the test; a developer without them gets a skip that says
// why, rather than a wall of red.
func NeedDir(t testing.TB) string {
	t.Helper()
	dir, err := Dir()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
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

// loader serves URLPrefix<file> from dir, so validation never touches the
// network.
type loader struct {
	dir       string
	swordfish map[string][]string // built on first use
}

func (l *loader) Load(url string) (any, error) {
	name, ok := strings.CutPrefix(url, URLPrefix)
	if sf, isSF := strings.CutPrefix(url, swordfishPrefix); isSF {
		// DSP8010 ships the few Swordfish schemas DMTF resources are
		// built on (Volume, VolumeCollection): those are checked as
		// published, the rest stubbed.
		if _, err := os.Stat(filepath.Join(l.dir, filepath.FromSlash(sf))); err != nil || !fs.ValidPath(sf) {
			return l.stub(url)
		}
		name, ok = sf, true
	}
	if !ok || !fs.ValidPath(name) {
		return nil, fmt.Errorf("schema %s: outside %s", url, URLPrefix)
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
		if len(anyOf) < 2 || refOf(anyOf[0]) != URLPrefix+"odata-v4.json#/definitions/idRef" {
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

// stub stands in for a Swordfish schema DSP8010 does not ship, with a
// permissive definition for every name the DMTF schemas reference in it.
// The storage resources served (Storage, StorageController, Drive and the
// Volumes DSP8010 does ship) emit none of the properties these stand for
// (storage pools, groups, capacity sources, replicas, metrics), so nothing
// served goes unchecked.
func (l *loader) stub(url string) (any, error) {
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
func (l *loader) indexSwordfish() error {
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

// Validator compiles schemas on demand and keeps them. It is not safe for
// concurrent use: the compiler and cache are unguarded, and a test needs
// no more than one goroutine validating.
type Validator struct {
	c     *jsonschema.Compiler
	cache map[string]*jsonschema.Schema
}

// New returns a Validator loading schemas from dir only.
func New(dir string) (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.UseLoader(&loader{dir: dir})
	// Every DMTF schema names redfish-schema-v1.json as its meta-schema.
	// It is draft-07 plus annotation keywords (readonly, longDescription,
	// ...) that do not constrain instances, so draft-07 stands in for it.
	meta := map[string]any{
		"$schema": "http://json-schema.org/draft-07/schema#",
		"$id":     URLPrefix + "redfish-schema-v1.json",
		"$ref":    "http://json-schema.org/draft-07/schema#",
	}
	if err := c.AddResource(URLPrefix+"redfish-schema-v1.json", meta); err != nil {
		return nil, fmt.Errorf("add meta-schema: %w", err)
	}
	return &Validator{c: c, cache: map[string]*jsonschema.Schema{}}, nil
}

// NewForTest is New on NeedDir's folder, ending the test if either fails.
func NewForTest(t testing.TB) *Validator {
	t.Helper()
	v, err := New(NeedDir(t))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (v *Validator) schema(loc string) (*jsonschema.Schema, error) {
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

// SchemaFor maps "#Memory.v1_23_0.Memory" to Memory.v1_23_0.json's Memory
// definition and "#MemoryCollection.MemoryCollection" to
// MemoryCollection.json's.
func SchemaFor(odataType string) (string, error) {
	t, ok := strings.CutPrefix(odataType, "#")
	i := strings.LastIndex(t, ".")
	if !ok || i <= 0 {
		return "", fmt.Errorf("malformed @odata.type %q", odataType)
	}
	return URLPrefix + t[:i] + ".json#/definitions/" + t[i+1:], nil
}

// Validate checks the JSON document body against the schema at loc (a
// URL below URLPrefix, with a fragment).
func (v *Validator) Validate(body []byte, loc string) error {
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

// Tree validates doc, a decoded payload, against the schema its
// @odata.type names, and every resource (an object with @odata.type and
// @odata.id) embedded in it against its own. Embedded resources go
// innermost first and are replaced in doc by their reference, so each
// container validates as it would unexpanded: doc is modified. Tree returns
// how many resources it validated and what failed.
func (v *Validator) Tree(doc any) (int, []error) {
	var errs []error
	n := v.tree(doc, true, &errs)
	return n, errs
}

func (v *Validator) tree(doc any, top bool, errs *[]error) int {
	n := 0
	switch x := doc.(type) {
	case map[string]any:
		for k, e := range x {
			n += v.tree(e, false, errs)
			if em, ok := e.(map[string]any); ok && isResource(em) {
				x[k] = map[string]any{"@odata.id": em["@odata.id"]}
			}
		}
		if top || isResource(x) {
			n++
			if err := v.validateDecoded(x); err != nil {
				if !top {
					err = fmt.Errorf("embedded %v: %w", x["@odata.id"], err)
				}
				*errs = append(*errs, err)
			}
		}
	case []any:
		for i, e := range x {
			n += v.tree(e, false, errs)
			if em, ok := e.(map[string]any); ok && isResource(em) {
				x[i] = map[string]any{"@odata.id": em["@odata.id"]}
			}
		}
	}
	return n
}

// validateDecoded round-trips m through JSON so the validator sees numbers
// as the schema library decodes them, not as encoding/json did.
func (v *Validator) validateDecoded(m map[string]any) error {
	typ, _ := m["@odata.type"].(string)
	loc, err := SchemaFor(typ)
	if err != nil {
		return err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("re-encode %v: %w", m["@odata.id"], err)
	}
	return v.Validate(b, loc)
}

func isResource(m map[string]any) bool {
	_, id := m["@odata.id"]
	_, typ := m["@odata.type"]
	return id && typ
}

// Links returns every @odata.id below doc's top level (its own is not a
// link), without fragments, which name parts of a resource already read.
func Links(doc any) []string {
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
	walk(doc, true)
	return out
}

// Walk visits every URI reachable from start, breadth first and once
// each; visit reads one and returns the URIs it links to. Walk returns how
// many URIs it visited.
func Walk(start []string, visit func(uri string) []string) int {
	seen := map[string]bool{}
	queue := slices.Clone(start)
	for len(queue) > 0 {
		uri := queue[0]
		queue = queue[1:]
		if seen[uri] {
			continue
		}
		seen[uri] = true
		queue = append(queue, visit(uri)...)
	}
	return len(seen)
}
