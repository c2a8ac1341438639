package redfish

import (
	"testing"

	"github.com/bmcemu/bmcemu/conformance/schemacheck"
)

// The host registry is served like the memory one and is a valid
// MessageRegistry.
func TestHostRegistry(t *testing.T) {
	h := newHandler(t, newPlatform(t))
	f := getJSON(t, h, "/redfish/v1/Registries/BmcemuHost")
	if f["Registry"] != hostRegistry {
		t.Fatalf("registry file %v", f)
	}
	reg := getJSON(t, h, path(t, f, "Location", 0, "Uri").(string))
	if reg["RegistryPrefix"] != hostPrefix || path(t, reg, "Messages", "BootDeviceFailed", "NumberOfArgs") != 3.0 {
		t.Errorf("host registry %v", reg)
	}
	v := schemacheck.NewForTest(t)
	loc, _ := schemacheck.SchemaFor("#MessageRegistry.v1_7_0.MessageRegistry")
	if err := v.Validate(hostRegistryJSON, loc); err != nil {
		t.Error(err)
	}
}
