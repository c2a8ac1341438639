package redfish

import "github.com/gin-gonic/gin"

// inventoryRoutes serves the hardware inventory and the BMC's own
// resources beyond memory: processors, Ethernet interfaces, storage,
// power and thermal, the Manager's port, network protocols and audit log,
// and the UpdateService's firmware inventory. Every one but the audit log
// is rendered from the snapshot alone.
func (s *service) inventoryRoutes(e *gin.Engine) {
	sys := pathSystems + "/:system"
	s.handle(e, sys+"/Processors", resource{entity: "ProcessorCollection", get: s.getProcessors, snapshotOnly: true})
	s.handle(e, sys+"/Processors/:processor", resource{entity: "Processor", get: s.getProcessor, snapshotOnly: true})
	s.handle(e, sys+"/EthernetInterfaces", resource{entity: "EthernetInterfaceCollection", under: "ComputerSystem", get: s.getEthernetInterfaces, snapshotOnly: true})
	s.handle(e, sys+"/EthernetInterfaces/:nic", resource{entity: "EthernetInterface", under: "ComputerSystem/EthernetInterfaceCollection", get: s.getEthernetInterface, snapshotOnly: true})
	s.handle(e, sys+"/Storage", resource{entity: "StorageCollection", get: s.getStorageCollection, snapshotOnly: true})
	s.handle(e, sys+"/Storage/:storage", resource{entity: "Storage", get: s.getStorage, snapshotOnly: true})
	s.handle(e, sys+"/Storage/:storage/Controllers", resource{entity: "StorageControllerCollection", get: s.getStorageControllers, snapshotOnly: true})
	s.handle(e, sys+"/Storage/:storage/Controllers/:controller", resource{entity: "StorageController", get: s.getStorageController, snapshotOnly: true})
	s.handle(e, sys+"/Storage/:storage/Drives/:drive", resource{entity: "Drive", get: s.getDrive, snapshotOnly: true})
	s.handle(e, sys+"/Storage/:storage/Volumes", resource{entity: "VolumeCollection", get: s.getVolumes, snapshotOnly: true})
	s.handle(e, sys+"/Storage/:storage/Volumes/:volume", resource{entity: "Volume", get: s.getVolume, snapshotOnly: true})
	s.handle(e, sys+"/SimpleStorage", resource{entity: "SimpleStorageCollection", get: s.getSimpleStorageCollection, snapshotOnly: true})
	s.handle(e, sys+"/SimpleStorage/:storage", resource{entity: "SimpleStorage", get: s.getSimpleStorage, snapshotOnly: true})

	s.handle(e, pathChassis+"/:chassis/Power", resource{entity: "Power", get: s.getPower, snapshotOnly: true})
	s.handle(e, pathChassis+"/:chassis/Thermal", resource{entity: "Thermal", get: s.getThermal, snapshotOnly: true})

	mgr := pathManagers + "/:manager"
	s.handle(e, mgr+"/EthernetInterfaces", resource{entity: "EthernetInterfaceCollection", under: "Manager", get: s.getManagerEthernetInterfaces, snapshotOnly: true})
	s.handle(e, mgr+"/EthernetInterfaces/:bmcnic", resource{entity: "EthernetInterface", under: "Manager/EthernetInterfaceCollection", get: s.getManagerEthernetInterface, snapshotOnly: true})
	s.handle(e, mgr+"/NetworkProtocol", resource{entity: "ManagerNetworkProtocol", get: s.getNetworkProtocol, snapshotOnly: true})
	s.handle(e, mgr+"/LogServices", resource{entity: "LogServiceCollection", under: "Manager", get: s.getManagerLogServices})
	s.handle(e, mgr+"/LogServices/:mlog", resource{entity: "LogService", under: "Manager/LogServiceCollection", get: s.getManagerLogService})
	s.handle(e, mgr+"/LogServices/:mlog/Actions/LogService.ClearLog", resource{entity: "LogService", under: "Manager/LogServiceCollection", post: s.postClearManagerLog})
	s.handle(e, mgr+"/LogServices/:mlog/Entries", resource{entity: "LogEntryCollection", under: "Manager/LogServiceCollection/LogService", get: s.getManagerLogEntries})
	s.handle(e, mgr+"/LogServices/:mlog/Entries/:mentry", resource{entity: "LogEntry", under: "Manager/LogServiceCollection/LogService/LogEntryCollection", get: s.getManagerLogEntry})

	s.handle(e, pathUpdateService, resource{entity: "UpdateService", get: s.getUpdateService})
	s.handle(e, pathFirmwareInventory, resource{entity: "SoftwareInventoryCollection", get: s.getFirmwareInventory, snapshotOnly: true})
	s.handle(e, pathFirmwareInventory+"/:firmware", resource{entity: "SoftwareInventory", get: s.getSoftwareInventory, snapshotOnly: true})
}
