package redfish

import (
	"net/http"
	"reflect"
	"strings"

	"github.com/gin-gonic/gin"
)

// getVersions serves /redfish: the protocol versions this service speaks.
func (s *service) getVersions(*request) (any, error) {
	return map[string]string{"v1": pathRootCanonical}, nil
}

type serviceRoot struct {
	odata
	ID             string           `json:"Id"`
	Name           string           `json:"Name"`
	RedfishVersion string           `json:"RedfishVersion"`
	UUID           string           `json:"UUID"`
	Product        string           `json:"Product,omitempty"`
	Vendor         string           `json:"Vendor,omitempty"`
	Systems        link             `json:"Systems"`
	Chassis        link             `json:"Chassis"`
	Managers       link             `json:"Managers"`
	SessionService link             `json:"SessionService"`
	AccountService link             `json:"AccountService"`
	EventService   link             `json:"EventService"`
	Registries     link             `json:"Registries"`
	JsonSchemas    link             `json:"JsonSchemas"`
	Tasks          link             `json:"Tasks"`
	UpdateService  link             `json:"UpdateService"`
	Links          serviceRootLinks `json:"Links"`

	ProtocolFeaturesSupported protocolFeatures `json:"ProtocolFeaturesSupported"`
}

// protocolFeatures tells clients which query options work; each value is
// what query.go implements, and TestProtocolFeaturesAreTrue exercises each.
type protocolFeatures struct {
	ExpandQuery                     expandFeatures `json:"ExpandQuery"`
	FilterQuery                     bool           `json:"FilterQuery"`
	FilterQueryComparisonOperations bool           `json:"FilterQueryComparisonOperations"`
	FilterQueryCompoundOperations   bool           `json:"FilterQueryCompoundOperations"`
	SelectQuery                     bool           `json:"SelectQuery"`
	OnlyMemberQuery                 bool           `json:"OnlyMemberQuery"`
	TopSkipQuery                    bool           `json:"TopSkipQuery"`
	ExcerptQuery                    bool           `json:"ExcerptQuery"`
	IncludeOriginOfConditionQuery   bool           `json:"IncludeOriginOfConditionQuery"`
	MultipleHTTPRequests            bool           `json:"MultipleHTTPRequests"`
	DeepOperations                  deepOperations `json:"DeepOperations"`
}

type expandFeatures struct {
	ExpandAll bool `json:"ExpandAll"`
	Levels    bool `json:"Levels"`
	Links     bool `json:"Links"`
	NoLinks   bool `json:"NoLinks"`
	MaxLevels int  `json:"MaxLevels"`
}

type deepOperations struct {
	DeepPATCH bool `json:"DeepPATCH"`
	DeepPOST  bool `json:"DeepPOST"`
}

type serviceRootLinks struct {
	Sessions                link `json:"Sessions"`
	ManagerProvidingService link `json:"ManagerProvidingService"`
}

// serviceUUID identifies the Redfish service, which DSP0266 ties to the
// manager providing it; the host system has its own UUID.
func serviceUUID(serial string) string { return nameUUID("bmc", serial) }

func systemUUID(serial string) string { return nameUUID("system", serial) }

func (s *service) getServiceRoot(r *request) (any, error) {
	sys := r.snap.System
	return serviceRoot{
		odata:          odata{ID: pathRootCanonical, Type: typeServiceRoot},
		ID:             "RootService",
		Name:           "Root Service",
		RedfishVersion: redfishVersion,
		UUID:           serviceUUID(sys.SerialNumber),
		Product:        sys.Model,
		Vendor:         sys.Manufacturer,
		Systems:        link{ID: pathSystems},
		Chassis:        link{ID: pathChassis},
		Managers:       link{ID: pathManagers},
		SessionService: link{ID: pathSessionService},
		AccountService: link{ID: pathAccountService},
		EventService:   link{ID: pathEventService},
		Registries:     link{ID: pathRegistries},
		JsonSchemas:    link{ID: pathJSONSchemas},
		Tasks:          link{ID: pathTaskService},
		UpdateService:  link{ID: pathUpdateService},
		ProtocolFeaturesSupported: protocolFeatures{
			ExpandQuery:                     expandFeatures{ExpandAll: true, Levels: true, Links: true, NoLinks: true, MaxLevels: maxExpandLevels},
			FilterQuery:                     true,
			FilterQueryComparisonOperations: true,
			FilterQueryCompoundOperations:   true,
			SelectQuery:                     true,
			OnlyMemberQuery:                 true,
			TopSkipQuery:                    true,
			// HTTP/1.1 keep-alive pipelining is not promised.
			MultipleHTTPRequests: false,
		},
		Links: serviceRootLinks{
			Sessions:                link{ID: pathSessions},
			ManagerProvidingService: link{ID: managerPath()},
		},
	}, nil
}

// serviceEntry is one entry of the OData service document.
type serviceEntry struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	URL  string `json:"url"`
}

// getODataDocument serves /redfish/v1/odata, the OData service document:
// the service root and each resource directly below it (DSP0266 clause
// 6.6), plus the Sessions collection clients log in at.
func (s *service) getODataDocument(r *request) (any, error) {
	root, err := s.getServiceRoot(r)
	if err != nil {
		return nil, err
	}
	value := []serviceEntry{{Name: "Service", Kind: "Singleton", URL: pathRootCanonical}}
	value = append(value, rootChildren(root.(serviceRoot))...)
	value = append(value, serviceEntry{Name: "Sessions", Kind: "Singleton", URL: pathSessions})
	return struct {
		Context string         `json:"@odata.context"`
		Value   []serviceEntry `json:"value"`
	}{Context: pathMetadata, Value: value}, nil
}

// rootChildren lists the service root's link properties in declaration
// order. Reading them off the root, rather than keeping a second list,
// means a resource added to the root cannot be missing from the service
// document.
func rootChildren(root serviceRoot) []serviceEntry {
	v := reflect.ValueOf(root)
	var out []serviceEntry
	for i := range v.NumField() {
		// By type, before Interface: the embedded odata is unexported.
		if v.Field(i).Type() != reflect.TypeFor[link]() {
			continue
		}
		l := v.Field(i).Interface().(link)
		if l.ID == "" {
			continue
		}
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		out = append(out, serviceEntry{Name: name, Kind: "Singleton", URL: l.ID})
	}
	return out
}

// metadataDocument is the CSDL $metadata document. It references the
// DMTF-published files for the namespaces behind every @odata.type served,
// pushed or streamed (ServiceContainer was last redefined in
// ServiceRoot.v1_19_0) rather than embedding them; a new type needs its
// line here (TestMetadataIncludesServedTypes). A server with CXL also
// references the PCIe and CXL types it serves (pcie.go).
func metadataDocument(cxl bool) []byte {
	refs := []struct{ file, namespaces string }{
		{"ServiceRoot_v1.xml", "ServiceRoot ServiceRoot.v1_19_0 ServiceRoot.v1_20_0"},
		{"ComputerSystemCollection_v1.xml", "ComputerSystemCollection"},
		{"ComputerSystem_v1.xml", "ComputerSystem ComputerSystem.v1_27_0"},
		{"MemoryCollection_v1.xml", "MemoryCollection"},
		{"Memory_v1.xml", "Memory Memory.v1_23_0"},
		{"ChassisCollection_v1.xml", "ChassisCollection"},
		{"Chassis_v1.xml", "Chassis Chassis.v1_28_0"},
		{"ManagerCollection_v1.xml", "ManagerCollection"},
		{"Manager_v1.xml", "Manager Manager.v1_24_0"},
		{"SessionService_v1.xml", "SessionService SessionService.v1_2_0"},
		{"SessionCollection_v1.xml", "SessionCollection"},
		{"Session_v1.xml", "Session Session.v1_8_0"},
		{"AccountService_v1.xml", "AccountService AccountService.v1_18_1"},
		{"ManagerAccountCollection_v1.xml", "ManagerAccountCollection"},
		{"ManagerAccount_v1.xml", "ManagerAccount ManagerAccount.v1_14_1"},
		{"RoleCollection_v1.xml", "RoleCollection"},
		{"Role_v1.xml", "Role Role.v1_3_3"},
		{"MemoryMetrics_v1.xml", "MemoryMetrics MemoryMetrics.v1_8_0"},
		{"MemoryDomainCollection_v1.xml", "MemoryDomainCollection"},
		{"MemoryDomain_v1.xml", "MemoryDomain MemoryDomain.v1_5_1"},
		{"MemoryChunksCollection_v1.xml", "MemoryChunksCollection"},
		{"MemoryChunks_v1.xml", "MemoryChunks MemoryChunks.v1_6_2"},
		{"LogServiceCollection_v1.xml", "LogServiceCollection"},
		{"LogService_v1.xml", "LogService LogService.v1_9_0"},
		{"LogEntryCollection_v1.xml", "LogEntryCollection"},
		{"LogEntry_v1.xml", "LogEntry LogEntry.v1_21_0"},
		{"EventService_v1.xml", "EventService EventService.v1_12_0"},
		{"EventDestinationCollection_v1.xml", "EventDestinationCollection"},
		{"EventDestination_v1.xml", "EventDestination EventDestination.v1_16_0"},
		{"Event_v1.xml", "Event Event.v1_13_0"},
		{"MessageRegistryFileCollection_v1.xml", "MessageRegistryFileCollection"},
		{"MessageRegistryFile_v1.xml", "MessageRegistryFile MessageRegistryFile.v1_1_5"},
		{"MessageRegistry_v1.xml", "MessageRegistry MessageRegistry.v1_7_0"},
		{"Message_v1.xml", "Message Message.v1_3_0"},
		{"SensorCollection_v1.xml", "SensorCollection"},
		{"Sensor_v1.xml", "Sensor Sensor.v1_12_0"},
		{"EnvironmentMetrics_v1.xml", "EnvironmentMetrics EnvironmentMetrics.v1_5_0"},
		{"JsonSchemaFileCollection_v1.xml", "JsonSchemaFileCollection"},
		{"JsonSchemaFile_v1.xml", "JsonSchemaFile JsonSchemaFile.v1_1_5"},
		{"TaskService_v1.xml", "TaskService TaskService.v1_3_0"},
		{"ProcessorCollection_v1.xml", "ProcessorCollection"},
		{"Processor_v1.xml", "Processor Processor.v1_22_0"},
		{"EthernetInterfaceCollection_v1.xml", "EthernetInterfaceCollection"},
		{"EthernetInterface_v1.xml", "EthernetInterface EthernetInterface.v1_12_4"},
		{"StorageCollection_v1.xml", "StorageCollection"},
		{"Storage_v1.xml", "Storage Storage.v1_21_0"},
		{"StorageControllerCollection_v1.xml", "StorageControllerCollection"},
		{"StorageController_v1.xml", "StorageController StorageController.v1_11_0"},
		{"Drive_v1.xml", "Drive Drive.v1_22_0"},
		{"VolumeCollection_v1.xml", "VolumeCollection"},
		{"Volume_v1.xml", "Volume Volume.v1_10_2"},
		{"SimpleStorageCollection_v1.xml", "SimpleStorageCollection"},
		{"SimpleStorage_v1.xml", "SimpleStorage SimpleStorage.v1_3_2"},
		{"Power_v1.xml", "Power Power.v1_7_3"},
		{"Thermal_v1.xml", "Thermal Thermal.v1_7_3"},
		{"ManagerNetworkProtocol_v1.xml", "ManagerNetworkProtocol ManagerNetworkProtocol.v1_12_0"},
		{"UpdateService_v1.xml", "UpdateService UpdateService.v1_17_0"},
		{"SoftwareInventoryCollection_v1.xml", "SoftwareInventoryCollection"},
		{"SoftwareInventory_v1.xml", "SoftwareInventory SoftwareInventory.v1_13_0"},
		{"TaskCollection_v1.xml", "TaskCollection"},
		{"Task_v1.xml", "Task Task.v1_7_4"},
		{"Resource_v1.xml", "Resource Resource.v1_23_0"},
		{"RedfishExtensions_v1.xml", "RedfishExtensions.v1_0_0"},
	}
	refs = append(refs, hostMetadataRefs...)
	if cxl {
		refs = append(refs, cxlMetadataRefs...)
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">` + "\n")
	for _, r := range refs {
		b.WriteString(`  <edmx:Reference Uri="http://redfish.dmtf.org/schemas/v1/` + r.file + `">` + "\n")
		for ns := range strings.FieldsSeq(r.namespaces) {
			if ns == "RedfishExtensions.v1_0_0" {
				b.WriteString(`    <edmx:Include Namespace="` + ns + `" Alias="Redfish"/>` + "\n")
				continue
			}
			b.WriteString(`    <edmx:Include Namespace="` + ns + `"/>` + "\n")
		}
		b.WriteString("  </edmx:Reference>\n")
	}
	b.WriteString(`  <edmx:DataServices>
    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="Service">
      <EntityContainer Name="Service" Extends="ServiceRoot.v1_19_0.ServiceContainer"/>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
`)
	return []byte(b.String())
}

func (s *service) getMetadata(c *gin.Context) {
	s.write(c, http.StatusOK, "application/xml", metadataDocument(s.platform.Snapshot().CXL != nil))
}
