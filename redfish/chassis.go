package redfish

type chassis struct {
	odata
	ID           string       `json:"Id"`
	Name         string       `json:"Name"`
	ChassisType  string       `json:"ChassisType"`
	Manufacturer string       `json:"Manufacturer"`
	Model        string       `json:"Model"`
	SerialNumber string       `json:"SerialNumber"`
	PartNumber   string       `json:"PartNumber,omitempty"`
	PowerState   string       `json:"PowerState"`
	Status       status       `json:"Status"`
	Sensors      link         `json:"Sensors"`
	Links        chassisLinks `json:"Links"`
}

type chassisLinks struct {
	ComputerSystems   []link `json:"ComputerSystems"`
	ManagedBy         []link `json:"ManagedBy"`
	ManagersInChassis []link `json:"ManagersInChassis"`
}

func (s *service) getChassisCollection(*request) (any, error) {
	return newCollection(pathChassis, typeChassisCollection, "Chassis Collection", links(chassisPath())), nil
}

func (s *service) getChassis(r *request) (any, error) {
	if err := lookupChassis(r); err != nil {
		return nil, err
	}
	sys := r.snap.System
	return chassis{
		odata:        odata{ID: chassisPath(), Type: typeChassis},
		ID:           chassisID,
		Name:         sys.Model + " Chassis",
		ChassisType:  "RackMount",
		Manufacturer: sys.Manufacturer,
		Model:        sys.Model,
		SerialNumber: sys.SerialNumber,
		PartNumber:   sys.PartNumber,
		PowerState:   powerState(r.snap.PowerOn),
		Status:       statusOK(),
		Sensors:      link{ID: sensorsPath()},
		Links: chassisLinks{
			ComputerSystems:   links(systemPath()),
			ManagedBy:         links(managerPath()),
			ManagersInChassis: links(managerPath()),
		},
	}, nil
}
