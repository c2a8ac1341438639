package redfish

type manager struct {
	odata
	ID                    string `json:"Id"`
	Name                  string `json:"Name"`
	ManagerType           string `json:"ManagerType"`
	Manufacturer          string `json:"Manufacturer"`
	Model                 string `json:"Model"`
	FirmwareVersion       string `json:"FirmwareVersion,omitempty"`
	UUID                  string `json:"UUID"`
	ServiceEntryPointUUID string `json:"ServiceEntryPointUUID"`
	// The BMC runs on standby power, so it is on whatever the host does.
	PowerState string       `json:"PowerState"`
	Status     status       `json:"Status"`
	Links      managerLinks `json:"Links"`
}

type managerLinks struct {
	ManagerForServers []link `json:"ManagerForServers"`
	ManagerForChassis []link `json:"ManagerForChassis"`
	ManagerInChassis  link   `json:"ManagerInChassis"`
}

func (s *service) getManagers(*request) (any, error) {
	return newCollection(pathManagers, typeManagerCollection, "Manager Collection", links(managerPath())), nil
}

func (s *service) getManager(r *request) (any, error) {
	if id := r.param("manager"); id != managerID {
		return nil, errResourceNotFound("Manager", id)
	}
	sys := r.snap.System
	uuid := serviceUUID(sys.SerialNumber)
	return manager{
		odata:                 odata{ID: managerPath(), Type: typeManager},
		ID:                    managerID,
		Name:                  "Baseboard Management Controller",
		ManagerType:           "BMC",
		Manufacturer:          "bmcemu",
		Model:                 "bmcemu",
		FirmwareVersion:       r.snap.BMC.FirmwareVersion,
		UUID:                  uuid,
		ServiceEntryPointUUID: uuid,
		PowerState:            "On",
		Status:                statusOK(),
		Links: managerLinks{
			ManagerForServers: links(systemPath()),
			ManagerForChassis: links(chassisPath()),
			ManagerInChassis:  link{ID: chassisPath()},
		},
	}, nil
}
