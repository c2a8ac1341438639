package firmware

import (
	"fmt"
	"time"
)

// HIDMemoryDevice is the ACPI hardware ID of a memory device.
const HIDMemoryDevice = "PNP0C80"

// _STA bits.
const (
	STAPresent    uint8 = 0x1
	STAEnabled    uint8 = 0x2
	STAShown      uint8 = 0x4
	STAFunctional uint8 = 0x8
	// STAOK is a present, enabled, shown and functioning device.
	STAOK = STAPresent | STAEnabled | STAShown | STAFunctional
)

// NotifyCode is an ACPI Notify value sent to a device.
type NotifyCode uint8

// Device notification values.
const (
	NotifyBusCheck     NotifyCode = 0x00
	NotifyDeviceCheck  NotifyCode = 0x01
	NotifyEjectRequest NotifyCode = 0x03
)

func (n NotifyCode) String() string {
	switch n {
	case NotifyBusCheck:
		return "Bus Check"
	case NotifyDeviceCheck:
		return "Device Check"
	case NotifyEjectRequest:
		return "Eject Request"
	}
	return fmt.Sprintf("Notify(0x%02X)", uint8(n))
}

// _OST source events (besides the notify codes 0x00-0xFF themselves).
const (
	OSTSourceEject  uint32 = 0x103 // ejection processing
	OSTSourceInsert uint32 = 0x200 // insertion processing
)

// _OST status codes. 0x00-0x7F are general; 0x80+ depend on the source.
const (
	OSTSuccess           uint32 = 0x00
	OSTFailure           uint32 = 0x01 // non-specific failure
	OSTUnrecognizedNotif uint32 = 0x02

	OSTInsertInProgress   uint32 = 0x80
	OSTInsertDriverLoad   uint32 = 0x81 // device driver load failure
	OSTInsertNotSupported uint32 = 0x82

	OSTEjectNotSupported   uint32 = 0x80
	OSTEjectInUse          uint32 = 0x81
	OSTEjectBusy           uint32 = 0x82
	OSTEjectDependencyBusy uint32 = 0x83
	OSTEjectInProgress     uint32 = 0x84
)

// isEjectSource reports whether an _OST source concerns ejection.
func isEjectSource(src uint32) bool {
	return src == OSTSourceEject || src == uint32(NotifyEjectRequest)
}

// OSTMeaning names an _OST (source, status) pair.
func OSTMeaning(source, status uint32) string {
	switch status {
	case OSTSuccess:
		return "success"
	case OSTFailure:
		return "non-specific failure"
	case OSTUnrecognizedNotif:
		return "unrecognized notify code"
	}
	if isEjectSource(source) {
		switch status {
		case OSTEjectNotSupported:
			return "eject not supported"
		case OSTEjectInUse:
			return "device in use"
		case OSTEjectBusy:
			return "device busy"
		case OSTEjectDependencyBusy:
			return "dependency busy"
		case OSTEjectInProgress:
			return "ejection in progress"
		}
	} else {
		switch status {
		case OSTInsertInProgress:
			return "insertion in progress"
		case OSTInsertDriverLoad:
			return "device driver load failure"
		case OSTInsertNotSupported:
			return "insertion not supported"
		}
	}
	return fmt.Sprintf("status 0x%02X", status)
}

// OSTRecord is one _OST evaluation for a device.
type OSTRecord struct {
	At      time.Time `json:"at"`
	Source  uint32    `json:"source"`
	Status  uint32    `json:"status"`
	Meaning string    `json:"meaning"`
	// From is "ospm" when the OS evaluated _OST, "firmware" when the
	// firmware recorded the status of a transaction it ended itself.
	From string `json:"from"`
}

// Device is a read-only view of one PNP0C80 memory device (one per slot).
type Device struct {
	Path string `json:"path"` // e.g. \_SB.MHPC.MP05
	HID  string `json:"hid"`
	UID  int    `json:"uid"` // the slot ordinal
	Slot string `json:"slot"`
	STA  uint8  `json:"sta"`
	// CRS is the device's memory resource; empty for boot memory (its
	// modules are striped across the socket's interleave set) and for
	// devices that are absent or failed.
	CRS []Range `json:"crs,omitempty"`
	PXM uint32  `json:"pxm"`
	// Ejectable says the device has an _EJ0 the OS may run.
	Ejectable bool `json:"ejectable"`
	// FWFault is the firmware's FW_FAULT flag for the module.
	FWFault     bool   `json:"fw_fault"`
	Parked      bool   `json:"parked"`
	FaultReason string `json:"fault_reason,omitempty"`
	// Stage is the hot-plug step in progress, empty when idle.
	Stage    string          `json:"stage,omitempty"`
	Training *TrainingResult `json:"training,omitempty"`
	Pattern  *PatternResult  `json:"pattern,omitempty"`
	OST      []OSTRecord     `json:"ost,omitempty"`
}

// Ranges in CRS form for the kernel's add_memory: base and size.
func (d Device) Range() (Range, bool) {
	if len(d.CRS) == 0 {
		return Range{}, false
	}
	return d.CRS[0], true
}

// OSPMFunc adapts a function to OSPM.
type OSPMFunc func(dev Device, code NotifyCode)

// Notify implements OSPM.
func (f OSPMFunc) Notify(dev Device, code NotifyCode) { f(dev, code) }
