package redfish

import (
	"strconv"
	"strings"

	"github.com/bmcemu/bmcemu/platform"
)

// The UpdateService (DSP0268 UpdateService.v1_17_0) and its
// FirmwareInventory (SoftwareInventory.v1_13_0): one member per firmware
// image the platform's parts run (platform.Hardware.Firmware). The system
// firmware (BIOS) and the BMC are Updateable through SimpleUpdate
// (update.go); their versions are the platform's firmware state
// (platform.Snapshot.Firmware), so an activated update shows here.

const (
	typeUpdateService               = "#UpdateService.v1_17_0.UpdateService"
	typeSoftwareInventoryCollection = "#SoftwareInventoryCollection.SoftwareInventoryCollection"
	typeSoftwareInventory           = "#SoftwareInventory.v1_13_0.SoftwareInventory"

	pathUpdateService     = "/redfish/v1/UpdateService"
	pathFirmwareInventory = pathUpdateService + "/FirmwareInventory"
)

type updateService struct {
	odata
	ID                string `json:"Id"`
	Name              string `json:"Name"`
	Description       string `json:"Description"`
	ServiceEnabled    bool   `json:"ServiceEnabled"`
	FirmwareInventory link   `json:"FirmwareInventory"`
	MaxImageSizeBytes int64  `json:"MaxImageSizeBytes"`
	Status            status `json:"Status"`
	Actions           struct {
		SimpleUpdate simpleUpdateAction `json:"#UpdateService.SimpleUpdate"`
	} `json:"Actions"`
}

type softwareInventory struct {
	odata
	ID           string `json:"Id"`
	Name         string `json:"Name"`
	Description  string `json:"Description"`
	Version      string `json:"Version"`
	Manufacturer string `json:"Manufacturer,omitempty"`
	SoftwareID   string `json:"SoftwareId"`
	Updateable   bool   `json:"Updateable"`
	// WriteProtected: the images cannot be written through this service.
	WriteProtected   bool   `json:"WriteProtected"`
	RelatedItem      []link `json:"RelatedItem"`
	RelatedItemCount int    `json:"RelatedItem@odata.count"`
	Status           status `json:"Status"`
}

func (s *service) getUpdateService(*request) (any, error) {
	u := updateService{
		odata:             odata{ID: pathUpdateService, Type: typeUpdateService},
		ID:                "UpdateService",
		Name:              "Update Service",
		Description:       "The firmware the server's parts run; updates of the system firmware (BIOS) and the BMC, staged until the component next starts",
		ServiceEnabled:    true,
		FirmwareInventory: link{ID: pathFirmwareInventory},
		MaxImageSizeBytes: s.media.maxBytes,
		Status:            status{State: "Enabled", Health: "OK"},
	}
	u.Actions.SimpleUpdate = s.simpleUpdateActions()
	return u, nil
}

func (s *service) getFirmwareInventory(r *request) (any, error) {
	var members []link
	for _, f := range r.snap.Hardware.Firmware {
		members = append(members, link{ID: pathFirmwareInventory + "/" + f.ID})
	}
	return newCollection(pathFirmwareInventory, typeSoftwareInventoryCollection, "Firmware Inventory Collection", members), nil
}

func (s *service) getSoftwareInventory(r *request) (any, error) {
	id := r.param("firmware")
	f, ok := r.snap.Hardware.FirmwareByID(id)
	if !ok {
		return nil, errResourceNotFound("SoftwareInventory", id)
	}
	related := firmwareRelatedItems(r.snap, f)
	// The BIOS and the BMC run what SimpleUpdate last activated.
	updateable := false
	switch f.Kind {
	case platform.FirmwareBIOS:
		updateable = true
		if v := r.snap.Firmware.BIOS; v != "" {
			f.Version = v
		}
	case platform.FirmwareBMC:
		updateable = true
		if v := r.snap.Firmware.BMC; v != "" {
			f.Version = v
		}
	}
	return softwareInventory{
		odata:            odata{ID: pathFirmwareInventory + "/" + f.ID, Type: typeSoftwareInventory},
		ID:               f.ID,
		Name:             f.Name,
		Description:      f.Kind + " firmware",
		Version:          f.Version,
		Manufacturer:     f.Manufacturer,
		SoftwareID:       f.Kind,
		Updateable:       updateable,
		WriteProtected:   !updateable,
		RelatedItem:      related,
		RelatedItemCount: len(related),
		Status:           status{State: "Enabled", Health: "OK"},
	}, nil
}

// firmwareRelatedItems links the resources an image runs on: the system
// (BIOS), the Manager (BMC), the processor, the adapter's ports, the
// storage controller, the drive, the supply's entry in Power.
func firmwareRelatedItems(snap *platform.Snapshot, f platform.FirmwareComponent) []link {
	h := &snap.Hardware
	switch f.Kind {
	case platform.FirmwareBIOS:
		return links(systemPath())
	case platform.FirmwareBMC:
		return links(managerPath())
	case platform.FirmwareMicrocode:
		return links(processorPath(f.Target))
	case platform.FirmwareNIC:
		var out []link
		if n, ok := h.NIC(f.Target); ok {
			for _, p := range n.Ports {
				out = append(out, link{ID: ethernetInterfacePath(p.ID)})
			}
		}
		return out
	case platform.FirmwareStorageController:
		return links(controllerPath(f.Target))
	case platform.FirmwareDrive:
		c, d, _ := strings.Cut(f.Target, "/")
		return links(drivePath(c, d))
	case platform.FirmwarePowerSupply:
		for i, ps := range h.PowerSupplies {
			if ps.ID == f.Target {
				return links(powerPath() + "#/PowerSupplies/" + strconv.Itoa(i))
			}
		}
	}
	return []link{}
}
