package redfish

// The host's routes in the privilege matrix (privmatrix_test.go).
func init() {
	chainManager := []string{"ManagerCollection", "Manager"}
	chainMedia := append(chainManager[:2:2], "VirtualMediaCollection")
	for route, r := range map[string]matrixRoute{
		"/redfish/v1/Systems/:system/BootOptions":                                            {entity: "BootOptionCollection", chain: chainSystem},
		"/redfish/v1/Systems/:system/BootOptions/:option":                                    {entity: "BootOption", chain: append(chainSystem[:2:2], "BootOptionCollection")},
		"/redfish/v1/Systems/:system/Bios":                                                   {entity: "Bios", chain: chainSystem},
		"/redfish/v1/Systems/:system/Bios/Settings":                                          {entity: "Bios", chain: chainSystem},
		"/redfish/v1/Systems/:system/Bios/Actions/Bios.ResetBios":                            {entity: "Bios", chain: chainSystem},
		"/redfish/v1/Systems/:system/Bios/Actions/Bios.ChangePassword":                       {entity: "Bios", chain: chainSystem},
		"/redfish/v1/Systems/:system/SecureBoot":                                             {entity: "SecureBoot", chain: chainSystem},
		"/redfish/v1/Systems/:system/SecureBoot/Actions/SecureBoot.ResetKeys":                {entity: "SecureBoot", chain: chainSystem},
		"/redfish/v1/UpdateService":                                                          {entity: "UpdateService"},
		"/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate":                       {entity: "UpdateService"},
		"/redfish/v1/Managers/:manager/VirtualMedia":                                         {entity: "VirtualMediaCollection", chain: chainManager},
		"/redfish/v1/Managers/:manager/VirtualMedia/:media":                                  {entity: "VirtualMedia", chain: chainMedia},
		"/redfish/v1/Managers/:manager/VirtualMedia/:media/Actions/VirtualMedia.InsertMedia": {entity: "VirtualMedia", chain: chainMedia},
		"/redfish/v1/Managers/:manager/VirtualMedia/:media/Actions/VirtualMedia.EjectMedia":  {entity: "VirtualMedia", chain: chainMedia},
	} {
		matrixRoutes[route] = r
	}
}

// hostMatrixValues are the ids the matrix uses for the host's routes.
var hostMatrixValues = map[string]string{":option": "Boot0000", ":media": "CD"}
