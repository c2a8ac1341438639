package events

// The host's own life beside its memory: power-on resets, firmware progress
// through POST, the boot device it booted from, OS shutdown and NMIs. The
// platform publishes them; IPMI logs the ones the spec has sensors for
// (System Boot/Restart Initiated 1Dh, System Firmware Progress 0Fh, OS
// Boot 1Fh, OS Stop/Shutdown 20h, Critical Interrupt 13h) and Redfish
// shows the state in ComputerSystem.BootProgress.

// Restart causes (SystemRestarted.Cause).
const (
	RestartPowerUp   = "PowerUp"   // chassis power turned on
	RestartHardReset = "HardReset" // the reset line (ForceRestart, chassis hard reset)
	RestartWarmReset = "WarmReset" // the OS or firmware restarted the system (GracefulRestart)
)

// SystemRestarted: the host began a boot (POST) for Cause, its BootCount-th
// since the BMC started.
type SystemRestarted struct {
	Cause     string `json:"cause"`
	BootCount uint64 `json:"boot_count"`
}

// BootProgressChanged: the host firmware reached a new boot stage. State is
// one of the platform's BootProgress values (DSP0268's BootProgress
// LastState names); Code is the POST code the firmware wrote to port 80h.
type BootProgressChanged struct {
	State string `json:"state"`
	Code  uint8  `json:"code"`
}

// BootAttemptFailed: the firmware could not boot from a device and moved
// on: the override's target or an entry of the boot order.
type BootAttemptFailed struct {
	Target string `json:"target"`
	Device string `json:"device"`
	Reason string `json:"reason"`
}

// NoBootableDevice: every device was tried and none booted; the host
// waits in the firmware until it is reset.
type NoBootableDevice struct {
	Tried []string `json:"tried"`
}

// OSBootCompleted: the operating system booted from Target (Device names
// the boot option) and is running.
type OSBootCompleted struct {
	Target string `json:"target"`
	Device string `json:"device"`
}

// OSShutdown: the OS shut down gracefully, to power off (Reboot false) or
// to restart.
type OSShutdown struct {
	Reboot bool `json:"reboot"`
}

// NMIRaised: a diagnostic interrupt (NMI) was delivered to the host.
type NMIRaised struct {
	// Handled: the OS was running and logged it.
	Handled bool `json:"handled"`
}

func (SystemRestarted) Kind() string     { return "SystemRestarted" }
func (BootProgressChanged) Kind() string { return "BootProgressChanged" }
func (BootAttemptFailed) Kind() string   { return "BootAttemptFailed" }
func (NoBootableDevice) Kind() string    { return "NoBootableDevice" }
func (OSBootCompleted) Kind() string     { return "OSBootCompleted" }
func (OSShutdown) Kind() string          { return "OSShutdown" }
func (NMIRaised) Kind() string           { return "NMIRaised" }

// BootOrderChanged: the firmware's boot order or the set of active boot
// options changed (a setting, like BootOverrideChanged).
type BootOrderChanged struct {
	Order    []string `json:"order"`
	Inactive []string `json:"inactive,omitempty"`
}

func (BootOrderChanged) Kind() string { return "BootOrderChanged" }

// BiosSettingsStaged: BIOS settings were staged for the next boot (Pending
// names every staged attribute).
type BiosSettingsStaged struct {
	Pending []string `json:"pending"`
}

// BiosSettingsApplied: POST applied the staged BIOS settings.
type BiosSettingsApplied struct {
	Attributes []string `json:"attributes"`
}

// SecureBootChanged: the secure boot setting or its keys changed.
type SecureBootChanged struct {
	Enable bool   `json:"enable"`
	Keys   string `json:"keys"`
}

func (BiosSettingsStaged) Kind() string  { return "BiosSettingsStaged" }
func (BiosSettingsApplied) Kind() string { return "BiosSettingsApplied" }
func (SecureBootChanged) Kind() string   { return "SecureBootChanged" }

// VirtualMediaInserted: the BMC inserted an image in a virtual media
// device (Device is the boot target naming it: Cd, Usb).
type VirtualMediaInserted struct {
	Device string `json:"device"`
	Image  string `json:"image"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// VirtualMediaEjected: the device's image was ejected.
type VirtualMediaEjected struct {
	Device string `json:"device"`
	Image  string `json:"image"`
}

func (VirtualMediaInserted) Kind() string { return "VirtualMediaInserted" }
func (VirtualMediaEjected) Kind() string  { return "VirtualMediaEjected" }

// FirmwareStaged: a verified firmware image is staged for Component
// (BIOS, BMC), to activate when the component next starts.
type FirmwareStaged struct {
	Component string `json:"component"`
	Version   string `json:"version"`
	SHA256    string `json:"sha256"`
}

// FirmwareActivated: Component runs version To, replacing From.
type FirmwareActivated struct {
	Component string `json:"component"`
	From      string `json:"from"`
	To        string `json:"to"`
}

func (FirmwareStaged) Kind() string    { return "FirmwareStaged" }
func (FirmwareActivated) Kind() string { return "FirmwareActivated" }
