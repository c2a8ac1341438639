package redfish

import (
	"slices"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/cxl"
)

// cxlMatrixValues are the ids the privilege matrix uses for the CXL
// expander's routes: the card matrixPlatform brings up in CXL1.
var cxlMatrixValues = map[string]string{":pcie": "CXL1", ":function": "0", ":ld": "LD0", ":region": "region0"}

func init() {
	chainPCIe := []string{"ChassisCollection", "Chassis", "PCIeDeviceCollection", "PCIeDevice"}
	chainLD := append(slices.Clone(chainPCIe), "CXLLogicalDeviceCollection", "CXLLogicalDevice")
	dev := "/redfish/v1/Chassis/:chassis/PCIeDevices"
	for route, rt := range map[string]matrixRoute{
		dev:                                    {entity: "PCIeDeviceCollection", chain: chainPCIe[:2]},
		dev + "/:pcie":                         {entity: "PCIeDevice", chain: chainPCIe[:3]},
		dev + "/:pcie/PCIeFunctions":           {entity: "PCIeFunctionCollection", chain: chainPCIe},
		dev + "/:pcie/PCIeFunctions/:function": {entity: "PCIeFunction", chain: append(slices.Clone(chainPCIe), "PCIeFunctionCollection")},
		dev + "/:pcie/CXLLogicalDevices":       {entity: "CXLLogicalDeviceCollection", chain: chainPCIe},
		dev + "/:pcie/CXLLogicalDevices/:ld":   {entity: "CXLLogicalDevice", chain: chainLD[:5]},
		dev + "/:pcie/CXLLogicalDevices/:ld/MemoryRegions":         {entity: "MemoryRegionCollection", chain: chainLD},
		dev + "/:pcie/CXLLogicalDevices/:ld/MemoryRegions/:region": {entity: "MemoryRegion", chain: append(slices.Clone(chainLD), "MemoryRegionCollection")},
	} {
		matrixRoutes[route] = rt
	}
}

// matrixPlatform is the server a matrix route is exercised on: the cxl
// profile with an expander enabled in CXL1 for the PCIe routes, which a
// server without CXL does not serve, and the default profile otherwise.
func matrixPlatform(t *testing.T, route string) *platform.Platform {
	t.Helper()
	if !strings.Contains(route, "/PCIeDevices") {
		return newPlatform(t)
	}
	p := newProfilePlatform(t, "cxl", nil)
	if err := p.CXLInsert("CXL1", cxl.DeviceSpec{Capacity: 16 << 30, Serial: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CXLAttention("CXL1"); err != nil {
		t.Fatal(err)
	}
	return p
}
