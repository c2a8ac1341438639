package redfish

import (
	"slices"
	"strings"

	"github.com/bmcemu/bmcemu/platform"
)

const (
	pathJSONSchemas        = "/redfish/v1/JsonSchemas"
	typeJSONSchemaFileColl = "#JsonSchemaFileCollection.JsonSchemaFileCollection"
	typeJSONSchemaFile     = "#JsonSchemaFile.v1_1_5.JsonSchemaFile"
)

// servedTypes is every @odata.type the service emits: resources, the
// registry documents it hosts, the Event payloads it pushes and streams,
// and the Message objects in error bodies. JsonSchemas lists exactly these; TestSchemaCrawl holds the list
// to what a crawl of the service actually finds.
var servedTypes = []string{
	typeServiceRoot,
	typeSystemCollection, typeSystem,
	typeMemoryCollection, typeMemory, typeMemoryMetrics, typeEnvironmentMetrics,
	typeMemoryDomainCollection, typeMemoryDomain, typeMemoryChunksCollection, typeMemoryChunks,
	typeChassisCollection, typeChassis, typeSensorCollection, typeSensor,
	typeManagerCollection, typeManager,
	typeSessionService, typeSessionCollection, typeSession,
	typeAccountService, typeAccountCollection, typeManagerAccount, typeRoleCollection, typeRole,
	typeLogServiceCollection, typeLogService, typeLogEntryCollection, typeLogEntry,
	typeEventService, typeEventDestinationColl, typeEventDestination, typeEvent,
	typeRegistryFileColl, typeRegistryFile, typeMessageRegistry,
	typeJSONSchemaFileColl, typeJSONSchemaFile,
	typeTaskService, typeTaskCollection, typeTask,
	typeProcessorCollection, typeProcessor, typeEthernetInterfaceCollection, typeEthernetInterface,
	typeStorageCollection, typeStorage, typeStorageControllerCollection, typeStorageController, typeDrive,
	typeVolumeCollection, typeVolume, typeSimpleStorageCollection, typeSimpleStorage,
	typePower, typeThermal, typeNetworkProtocol,
	typeUpdateService, typeSoftwareInventoryCollection, typeSoftwareInventory,
	typeMessage,
}

// schemaOf splits "#Memory.v1_23_0.Memory" into the schema's name
// ("Memory") and its published file ("Memory.v1_23_0.json"); a collection
// ("#MemoryCollection.MemoryCollection") is unversioned.
func schemaOf(odataType string) (name, file string) {
	t := strings.TrimPrefix(odataType, "#")
	ns := t[:strings.LastIndex(t, ".")]
	name, _, _ = strings.Cut(ns, ".")
	return name, ns + ".json"
}

// typesServed is servedTypes for the server snap describes: a server with
// CXL host bridges also serves the PCIe and CXL types (pcie.go).
func typesServed(snap *platform.Snapshot) []string {
	if snap.CXL == nil {
		return servedTypes
	}
	return slices.Concat(servedTypes, cxlTypes)
}

func (s *service) getJSONSchemas(r *request) (any, error) {
	types := typesServed(r.snap)
	members := make([]link, len(types))
	for i, t := range types {
		name, _ := schemaOf(t)
		members[i] = link{ID: pathJSONSchemas + "/" + name}
	}
	return newCollection(pathJSONSchemas, typeJSONSchemaFileColl, "JSON Schema File Collection", members), nil
}

type jsonSchemaFile struct {
	odata
	ID          string             `json:"Id"`
	Name        string             `json:"Name"`
	Description string             `json:"Description"`
	Languages   []string           `json:"Languages"`
	Schema      string             `json:"Schema"`
	Location    []registryLocation `json:"Location"`
}

// getJSONSchema describes one schema by reference: the service keeps no
// copies of DSP8010, so the location is DMTF's publication URI. Uri is
// left out because DSP8010 reserves it for a copy colocated with the
// service, which a client would then fetch from here.
func (s *service) getJSONSchema(r *request) (any, error) {
	id := r.param("schema")
	for _, t := range typesServed(r.snap) {
		name, file := schemaOf(t)
		if name != id {
			continue
		}
		return jsonSchemaFile{
			odata:       odata{ID: pathJSONSchemas + "/" + name, Type: typeJSONSchemaFile},
			ID:          name,
			Name:        name + " Schema File",
			Description: "Where the " + name + " schema this service implements is published",
			Languages:   []string{"en"},
			Schema:      t,
			Location:    []registryLocation{{Language: "en", PublicationURI: schemaURI + file}},
		}, nil
	}
	return nil, errResourceNotFound("JsonSchemaFile", id)
}
