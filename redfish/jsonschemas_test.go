package redfish

import (
	"net/http"
	"testing"
)

// A schema file points at DMTF's publication of exactly the version the
// service emits, and $select works on it as on any resource.
func TestJSONSchemaFile(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	if got := path(t, getJSON(t, h, "/redfish/v1/"), "JsonSchemas", "@odata.id"); got != "/redfish/v1/JsonSchemas" {
		t.Fatalf("ServiceRoot JsonSchemas = %v", got)
	}
	f := getJSON(t, h, "/redfish/v1/JsonSchemas/Memory")
	if f["Schema"] != typeMemory || path(t, f, "Location", 0, "PublicationUri") != "http://redfish.dmtf.org/schemas/v1/Memory.v1_23_0.json" ||
		path(t, f, "Languages", 0) != "en" {
		t.Errorf("JsonSchemas/Memory = %v", f)
	}
	if _, ok := path(t, f, "Location", 0).(map[string]any)["Uri"]; ok {
		t.Error("Uri given for a schema the service does not host")
	}
	c := getJSON(t, h, "/redfish/v1/JsonSchemas/SensorCollection?$select=Schema")
	if c["Schema"] != typeSensorCollection || c["Location"] != nil {
		t.Errorf("$select=Schema = %v", c)
	}
	checkError(t, do(t, h, http.MethodGet, "/redfish/v1/JsonSchemas/Bogus"), http.StatusNotFound, "ResourceNotFound", "JsonSchemaFile", "Bogus")
}
