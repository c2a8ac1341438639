package redfish

import (
	"fmt"

	"github.com/bmcemu/bmcemu/platform"
)

// Storage (DSP0268 Storage.v1_21_0, StorageController.v1_11_0,
// Drive.v1_22_0; Swordfish Volume.v1_10_2 as DSP8010 publishes it) and
// the older SimpleStorage.v1_3_2: one Storage per platform controller,
// its drives by bay and its volumes. SimpleStorage lists the same
// drives, for clients (Ironic's inspection) that size disks through it.

const (
	typeStorageCollection           = "#StorageCollection.StorageCollection"
	typeStorage                     = "#Storage.v1_21_0.Storage"
	typeStorageControllerCollection = "#StorageControllerCollection.StorageControllerCollection"
	typeStorageController           = "#StorageController.v1_11_0.StorageController"
	typeDrive                       = "#Drive.v1_22_0.Drive"
	typeVolumeCollection            = "#VolumeCollection.VolumeCollection"
	typeVolume                      = "#Volume.v1_10_2.Volume"
	typeSimpleStorageCollection     = "#SimpleStorageCollection.SimpleStorageCollection"
	typeSimpleStorage               = "#SimpleStorage.v1_3_2.SimpleStorage"

	// controllerID is the one controller of each Storage: the platform's
	// storage controllers are one Storage subsystem each.
	controllerID = "0"
)

func storageCollectionPath() string       { return systemPath() + "/Storage" }
func storagePath(id string) string        { return storageCollectionPath() + "/" + id }
func controllersPath(id string) string    { return storagePath(id) + "/Controllers" }
func controllerPath(id string) string     { return controllersPath(id) + "/" + controllerID }
func drivePath(id, drive string) string   { return storagePath(id) + "/Drives/" + drive }
func volumesPath(id string) string        { return storagePath(id) + "/Volumes" }
func volumePath(id, vol string) string    { return volumesPath(id) + "/" + vol }
func simpleStorageCollectionPath() string { return systemPath() + "/SimpleStorage" }
func simpleStoragePath(id string) string  { return simpleStorageCollectionPath() + "/" + id }

type storage struct {
	odata
	ID          string `json:"Id"`
	Name        string `json:"Name"`
	Description string `json:"Description"`
	// StorageControllers is deprecated (Storage 1.13) for Controllers,
	// but Ansible's GetStorageControllerInventory and GetDiskInventory
	// read the controller from it, so both are served.
	StorageControllers      []inlineController `json:"StorageControllers"`
	StorageControllersCount int                `json:"StorageControllers@odata.count"`
	Controllers             link               `json:"Controllers"`
	Drives                  []link             `json:"Drives"`
	DrivesCount             int                `json:"Drives@odata.count"`
	Volumes                 link               `json:"Volumes"`
	Status                  status             `json:"Status"`
}

// controllerInfo is what StorageController and the inline
// Storage.StorageControllers entries share.
type controllerInfo struct {
	Name                         string   `json:"Name"`
	Manufacturer                 string   `json:"Manufacturer"`
	Model                        string   `json:"Model"`
	SerialNumber                 string   `json:"SerialNumber"`
	FirmwareVersion              string   `json:"FirmwareVersion,omitempty"`
	SpeedGbps                    *float64 `json:"SpeedGbps,omitempty"`
	SupportedControllerProtocols []string `json:"SupportedControllerProtocols"`
	SupportedDeviceProtocols     []string `json:"SupportedDeviceProtocols"`
	SupportedRAIDTypes           []string `json:"SupportedRAIDTypes"`
	Status                       status   `json:"Status"`
}

type inlineController struct {
	ID       string `json:"@odata.id"`
	MemberID string `json:"MemberId"`
	controllerInfo
}

type storageController struct {
	odata
	ID string `json:"Id"`
	controllerInfo
}

type drive struct {
	odata
	ID                            string `json:"Id"`
	Name                          string `json:"Name"`
	Manufacturer                  string `json:"Manufacturer"`
	Model                         string `json:"Model"`
	SerialNumber                  string `json:"SerialNumber"`
	Revision                      string `json:"Revision,omitempty"`
	FirmwareVersion               string `json:"FirmwareVersion,omitempty"`
	MediaType                     string `json:"MediaType"`
	Protocol                      string `json:"Protocol"`
	CapacityBytes                 uint64 `json:"CapacityBytes"`
	BlockSizeBytes                int    `json:"BlockSizeBytes"`
	RotationSpeedRPM              *int   `json:"RotationSpeedRPM,omitempty"`
	PredictedMediaLifeLeftPercent *int   `json:"PredictedMediaLifeLeftPercent,omitempty"`
	FailurePredicted              bool   `json:"FailurePredicted"`
	// PhysicalLocation: Drive's Location is the deprecated array form.
	PhysicalLocation location   `json:"PhysicalLocation"`
	Status           status     `json:"Status"`
	Links            driveLinks `json:"Links"`
}

type driveLinks struct {
	Chassis      link   `json:"Chassis"`
	Storage      link   `json:"Storage"`
	Volumes      []link `json:"Volumes"`
	VolumesCount int    `json:"Volumes@odata.count"`
}

type volume struct {
	odata
	ID             string      `json:"Id"`
	Name           string      `json:"Name"`
	DisplayName    string      `json:"DisplayName"`
	RAIDType       string      `json:"RAIDType"`
	CapacityBytes  uint64      `json:"CapacityBytes"`
	BlockSizeBytes int         `json:"BlockSizeBytes"`
	Encrypted      bool        `json:"Encrypted"`
	Status         status      `json:"Status"`
	Links          volumeLinks `json:"Links"`
}

type volumeLinks struct {
	Drives      []link `json:"Drives"`
	DrivesCount int    `json:"Drives@odata.count"`
}

type simpleStorage struct {
	odata
	ID          string                `json:"Id"`
	Name        string                `json:"Name"`
	Description string                `json:"Description"`
	Devices     []simpleStorageDevice `json:"Devices"`
	Status      status                `json:"Status"`
}

type simpleStorageDevice struct {
	Name          string `json:"Name"`
	Manufacturer  string `json:"Manufacturer"`
	Model         string `json:"Model"`
	CapacityBytes uint64 `json:"CapacityBytes"`
	Status        status `json:"Status"`
}

// logicalBlock is the sector size the drives and volumes present.
const logicalBlock = 512

// lookupStorage resolves :system and :storage.
func lookupStorage(r *request) (platform.StorageController, error) {
	if err := lookupSystem(r); err != nil {
		return platform.StorageController{}, err
	}
	id := r.param("storage")
	c, ok := r.snap.Hardware.Controller(id)
	if !ok {
		return c, errResourceNotFound("Storage", id)
	}
	return c, nil
}

func (s *service) getStorageCollection(r *request) (any, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	var members []link
	for _, c := range r.snap.Hardware.Storage {
		members = append(members, link{ID: storagePath(c.ID)})
	}
	return newCollection(storageCollectionPath(), typeStorageCollection, "Storage Collection", members), nil
}

// storageHealth rolls the drives' and volumes' health up.
func storageHealth(c platform.StorageController) status {
	st := status{State: "Enabled", Health: "OK", HealthRollup: "OK"}
	for _, d := range c.Drives {
		st.HealthRollup = worseHealth(st.HealthRollup, redfishHealth(d.Health))
	}
	for _, v := range c.Volumes {
		st.HealthRollup = worseHealth(st.HealthRollup, redfishHealth(v.Health))
	}
	return st
}

// redfishHealth maps the platform's health words to Redfish's.
func redfishHealth(h string) string {
	switch h {
	case platform.HealthWarning:
		return "Warning"
	case platform.HealthCritical:
		return "Critical"
	}
	return "OK"
}

func (s *service) getStorage(r *request) (any, error) {
	c, err := lookupStorage(r)
	if err != nil {
		return nil, err
	}
	drives := []link{}
	for _, d := range c.Drives {
		drives = append(drives, link{ID: drivePath(c.ID, d.ID)})
	}
	return storage{
		odata:                   odata{ID: storagePath(c.ID), Type: typeStorage},
		ID:                      c.ID,
		Name:                    c.ID + " Storage",
		Description:             c.Manufacturer + " " + c.Model + " and its drives",
		StorageControllers:      []inlineController{{ID: storagePath(c.ID) + "#/StorageControllers/0", MemberID: controllerID, controllerInfo: newControllerInfo(c)}},
		StorageControllersCount: 1,
		Controllers:             link{ID: controllersPath(c.ID)},
		Drives:                  drives,
		DrivesCount:             len(drives),
		Volumes:                 link{ID: volumesPath(c.ID)},
		Status:                  storageHealth(c),
	}, nil
}

// deviceProtocols are the drive protocols a controller reaches: those of
// the drives it holds, SAS controllers reaching SATA drives too.
func deviceProtocols(c platform.StorageController) []string {
	have := map[string]bool{}
	for _, d := range c.Drives {
		have[d.Protocol] = true
	}
	var out []string
	for _, p := range []string{"SAS", "SATA", "NVMe"} {
		if have[p] || p == "SATA" && have["SAS"] {
			out = append(out, p)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

func newControllerInfo(c platform.StorageController) controllerInfo {
	ci := controllerInfo{
		Name: c.ID + " " + c.Model, Manufacturer: c.Manufacturer, Model: c.Model, SerialNumber: c.SerialNumber,
		FirmwareVersion: c.FirmwareVersion, SupportedControllerProtocols: []string{"PCIe"},
		SupportedDeviceProtocols: deviceProtocols(c), SupportedRAIDTypes: c.RAIDLevels,
		Status: storageHealth(c),
	}
	if c.SpeedGbps > 0 {
		sp := c.SpeedGbps
		ci.SpeedGbps = &sp
	}
	return ci
}

func (s *service) getStorageControllers(r *request) (any, error) {
	c, err := lookupStorage(r)
	if err != nil {
		return nil, err
	}
	return newCollection(controllersPath(c.ID), typeStorageControllerCollection, "Storage Controller Collection",
		links(controllerPath(c.ID))), nil
}

func (s *service) getStorageController(r *request) (any, error) {
	c, err := lookupStorage(r)
	if err != nil {
		return nil, err
	}
	if id := r.param("controller"); id != controllerID {
		return nil, errResourceNotFound("StorageController", id)
	}
	return storageController{odata: odata{ID: controllerPath(c.ID), Type: typeStorageController}, ID: controllerID,
		controllerInfo: newControllerInfo(c)}, nil
}

func (s *service) getDrive(r *request) (any, error) {
	c, err := lookupStorage(r)
	if err != nil {
		return nil, err
	}
	id := r.param("drive")
	d, ok := c.Drive(id)
	if !ok {
		return nil, errResourceNotFound("Drive", id)
	}
	out := drive{
		odata:            odata{ID: drivePath(c.ID, d.ID), Type: typeDrive},
		ID:               d.ID,
		Name:             fmt.Sprintf("%s Bay %d", c.ID, d.Bay),
		Manufacturer:     d.Manufacturer,
		Model:            d.Model,
		SerialNumber:     d.SerialNumber,
		Revision:         d.FirmwareVersion,
		FirmwareVersion:  d.FirmwareVersion,
		MediaType:        d.Media,
		Protocol:         d.Protocol,
		CapacityBytes:    d.CapacityBytes,
		BlockSizeBytes:   logicalBlock,
		FailurePredicted: d.FailurePredicted,
		PhysicalLocation: location{PartLocation: partLocation{ServiceLabel: fmt.Sprintf("Bay %d", d.Bay), LocationType: "Bay", LocationOrdinalValue: d.Bay}},
		Status:           status{State: "Enabled", Health: redfishHealth(d.Health)},
		Links:            driveLinks{Chassis: link{ID: chassisPath()}, Storage: link{ID: storagePath(c.ID)}, Volumes: []link{}},
	}
	if d.RPM > 0 {
		rpm := d.RPM
		out.RotationSpeedRPM = &rpm
	}
	if d.LifeLeftPercent != nil {
		life := *d.LifeLeftPercent
		out.PredictedMediaLifeLeftPercent = &life
	}
	if d.Volume != "" {
		out.Links.Volumes = links(volumePath(c.ID, d.Volume))
	}
	out.Links.VolumesCount = len(out.Links.Volumes)
	return out, nil
}

func (s *service) getVolumes(r *request) (any, error) {
	c, err := lookupStorage(r)
	if err != nil {
		return nil, err
	}
	var members []link
	for _, v := range c.Volumes {
		members = append(members, link{ID: volumePath(c.ID, v.ID)})
	}
	return newCollection(volumesPath(c.ID), typeVolumeCollection, "Volume Collection", members), nil
}

func (s *service) getVolume(r *request) (any, error) {
	c, err := lookupStorage(r)
	if err != nil {
		return nil, err
	}
	id := r.param("volume")
	v, ok := c.Volume(id)
	if !ok {
		return nil, errResourceNotFound("Volume", id)
	}
	var drives []link
	for _, d := range v.Drives {
		drives = append(drives, link{ID: drivePath(c.ID, d)})
	}
	return volume{
		odata:          odata{ID: volumePath(c.ID, v.ID), Type: typeVolume},
		ID:             v.ID,
		Name:           v.Name,
		DisplayName:    v.Name,
		RAIDType:       v.RAID,
		CapacityBytes:  v.CapacityBytes,
		BlockSizeBytes: logicalBlock,
		Status:         status{State: "Enabled", Health: redfishHealth(v.Health)},
		Links:          volumeLinks{Drives: drives, DrivesCount: len(drives)},
	}, nil
}

func (s *service) getSimpleStorageCollection(r *request) (any, error) {
	if err := lookupSystem(r); err != nil {
		return nil, err
	}
	var members []link
	for _, c := range r.snap.Hardware.Storage {
		members = append(members, link{ID: simpleStoragePath(c.ID)})
	}
	return newCollection(simpleStorageCollectionPath(), typeSimpleStorageCollection, "Simple Storage Collection", members), nil
}

func (s *service) getSimpleStorage(r *request) (any, error) {
	c, err := lookupStorage(r)
	if err != nil {
		return nil, err
	}
	devs := []simpleStorageDevice{}
	for _, d := range c.Drives {
		devs = append(devs, simpleStorageDevice{Name: fmt.Sprintf("%s Bay %d", c.ID, d.Bay), Manufacturer: d.Manufacturer,
			Model: d.Model, CapacityBytes: d.CapacityBytes, Status: status{State: "Enabled", Health: redfishHealth(d.Health)}})
	}
	return simpleStorage{
		odata:       odata{ID: simpleStoragePath(c.ID), Type: typeSimpleStorage},
		ID:          c.ID,
		Name:        c.ID + " " + c.Model,
		Description: "The drives behind " + c.Manufacturer + " " + c.Model,
		Devices:     devs,
		Status:      storageHealth(c),
	}, nil
}
