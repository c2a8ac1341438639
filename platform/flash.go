package platform

// FirmwareNVRAM is the firmware inventory the BMC keeps: the versions
// running, once an update has replaced the profile's (flash.go's updates
// write it), so an update survives BMC restarts.
type FirmwareNVRAM struct {
	BIOS string `json:"bios,omitempty"`
	BMC  string `json:"bmc,omitempty"`
}
