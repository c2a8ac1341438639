package redfish

import (
	"fmt"

	"github.com/bmcemu/bmcemu/platform/sel"
)

// IPMI sensor type codes (v2.0 Table 42-3) and the LogEntry.SensorType
// enumeration strings DSP8010 gives them, in code order from 01h.
var selSensorTypes = [...]string{
	0x01: "Temperature", 0x02: "Voltage", 0x03: "Current", 0x04: "Fan",
	0x05: "Physical Chassis Security", 0x06: "Platform Security Violation Attempt",
	0x07: "Processor", 0x08: "Power Supply / Converter", 0x09: "PowerUnit",
	0x0A: "CoolingDevice", 0x0B: "Other Units-based Sensor", 0x0C: "Memory",
	0x0D: "Drive Slot/Bay", 0x0E: "POST Memory Resize", 0x0F: "System Firmware Progress",
	0x10: "Event Logging Disabled", 0x11: "Watchdog", 0x12: "System Event",
	0x13: "Critical Interrupt", 0x14: "Button/Switch", 0x15: "Module/Board",
	0x16: "Microcontroller/Coprocessor", 0x17: "Add-in Card", 0x18: "Chassis",
	0x19: "ChipSet", 0x1A: "Other FRU", 0x1B: "Cable/Interconnect", 0x1C: "Terminator",
	0x1D: "SystemBoot/Restart", 0x1E: "Boot Error", 0x1F: "BaseOSBoot/InstallationStatus",
	0x20: "OS Stop/Shutdown", 0x21: "Slot/Connector", 0x22: "System ACPI PowerState",
	0x23: "Watchdog", 0x24: "Platform Alert", 0x25: "Entity Presence",
	0x26: "Monitor ASIC/IC", 0x27: "LAN", 0x28: "Management Subsystem Health",
	0x29: "Battery", 0x2A: "Session Audit", 0x2B: "Version Change", 0x2C: "FRUState",
}

// IPMI sensor types this BMC logs against its slots.
const (
	ipmiSensorMemory        = 0x0C
	ipmiSensorSlotConnector = 0x21
	// ipmiSlotSensorBase mirrors ipmi/sdr.go: Memory sensors are numbered
	// slot ordinal + 1 (01h..5Fh), Slot/Connector sensors 60h + ordinal.
	ipmiSlotSensorBase = 0x60
	ipmiMaxSlots       = 0x5F
)

// sensorTypeName is the LogEntry.SensorType for an IPMI code; ok is false
// for codes the enumeration has no name for except "OEM" (C0h-FFh).
func sensorTypeName(code uint8) (string, bool) {
	if code >= 0xC0 {
		return "OEM", true
	}
	if int(code) < len(selSensorTypes) && selSensorTypes[code] != "" {
		return selSensorTypes[code], true
	}
	return "", false
}

// Generic event/reading type offsets (v2.0 Table 42-2) as LogEntryCode
// strings, per event type 02h..0Ch; 01h is threshold.
var genericEntryCodes = map[uint8][]string{
	0x01: {"Lower Non-critical - going low", "Lower Non-critical - going high", "Lower Critical - going low",
		"Lower Critical - going high", "Lower Non-recoverable - going low", "Lower Non-recoverable - going high",
		"Upper Non-critical - going low", "Upper Non-critical - going high", "Upper Critical - going low",
		"Upper Critical - going high", "Upper Non-recoverable - going low", "Upper Non-recoverable - going high"},
	0x02: {"Transition to Idle", "Transition to Active", "Transition to Busy"},
	0x03: {"State Deasserted", "State Asserted"},
	0x04: {"Predictive Failure deasserted", "Predictive Failure asserted"},
	0x05: {"Limit Not Exceeded", "Limit Exceeded"},
	0x06: {"Performance Met", "Performance Lags"},
	0x07: {"Transition to OK", "Transition to Non-Critical from OK", "Transition to Critical from less severe",
		"Transition to Non-recoverable from less severe", "Transition to Non-Critical from more severe",
		"Transition to Critical from Non-recoverable", "Transition to Non-recoverable", "Monitor", "Informational"},
	0x08: {"Device Removed / Device Absent", "Device Inserted / Device Present"},
	0x09: {"Device Disabled", "Device Enabled"},
	0x0A: {"Transition to Running", "Transition to In Test", "Transition to Power Off", "Transition to On Line",
		"Transition to Off Line", "Transition to Off Duty", "Transition to Degraded", "Transition to Power Save", "Install Error"},
	0x0B: {"Fully Redundant", "Redundancy Lost", "Redundancy Degraded", "Non-redundant:Sufficient Resources from Redundant",
		"Non-redundant:Sufficient Resources from Insufficient Resources", "Non-redundant:Insufficient Resources",
		"Redundancy Degraded from Fully Redundant", "Redundancy Degraded from Non-redundant"},
	0x0C: {"D0 Power State", "D1 Power State", "D2 Power State", "D3 Power State"},
}

// entryCode is LogEntry.EntryCode for an event: the generic offset name
// for event types 01h-0Ch, Assert/Deassert for sensor-specific (6Fh),
// OEM for 70h-7Fh. ok is false when no enumeration value fits.
func entryCode(e sel.Event) (string, bool) {
	switch {
	case e.EventType == 0x6F:
		if e.Deassertion {
			return "Deassert", true
		}
		return "Assert", true
	case e.EventType >= 0x70 && e.EventType <= 0x7F:
		return "OEM", true
	}
	codes := genericEntryCodes[e.EventType]
	if off := int(e.Offset()); off < len(codes) {
		return codes[off], true
	}
	return "", false
}

// Sensor-specific offsets (Table 42-3) of the sensor types this BMC logs.
var specificOffsets = map[uint8][]string{
	ipmiSensorMemory: {"Correctable ECC", "Uncorrectable ECC", "Parity", "Memory Scrub Failed",
		"Memory Device Disabled", "Correctable ECC logging limit reached", "Presence detected",
		"Configuration error", "Spare", "Memory Automatically Throttled", "Critical Overtemperature"},
	ipmiSensorSlotConnector: {"Fault Status", "Identify Status", "Device Installed", "Ready for Device Installation",
		"Ready for Device Removal", "Slot Power is Off", "Device Removal Request", "Interlock",
		"Slot is Disabled", "Slot holds spare device"},
}

// selMessageID is the SEL MessageId of DSP8010: 0xNNaabbcc, the event
// dir/type byte then event data 1-3.
func selMessageID(e sel.Event) string {
	return fmt.Sprintf("0x%02X%02X%02X%02X", e.DirType(), e.Data[0], e.Data[1], e.Data[2])
}

// selMessage is the human text of an event, in the shape ipmitool's
// "sel elist" prints: sensor, then the offset and its direction.
func selMessage(e sel.Event, sensorName string) string {
	what := ""
	if e.EventType == 0x6F {
		if names := specificOffsets[e.SensorType]; int(e.Offset()) < len(names) {
			what = names[e.Offset()]
		}
	} else if codes := genericEntryCodes[e.EventType]; int(e.Offset()) < len(codes) {
		what = codes[e.Offset()]
	}
	if what == "" {
		what = fmt.Sprintf("event type %02Xh offset %02Xh", e.EventType, e.Offset())
	}
	dir := "asserted"
	if e.Deassertion {
		dir = "deasserted"
	}
	typ, ok := sensorTypeName(e.SensorType)
	if !ok {
		typ = fmt.Sprintf("Sensor type %02Xh", e.SensorType)
	}
	if sensorName == "" {
		sensorName = fmt.Sprintf("#%02Xh", e.SensorNumber)
	}
	return fmt.Sprintf("%s %s: %s %s", typ, sensorName, what, dir)
}

// defaultSensorSlot maps this BMC's per-slot sensors back to the slot
// ordinal, mirroring ipmi/sdr.go (sensorNumber, slotSensorNumber).
func defaultSensorSlot(sensorType, sensorNumber uint8) (ordinal int, ok bool) {
	switch {
	case sensorType == ipmiSensorMemory && sensorNumber >= 1 && sensorNumber <= ipmiMaxSlots:
		return int(sensorNumber) - 1, true
	case sensorType == ipmiSensorSlotConnector && sensorNumber >= ipmiSlotSensorBase && sensorNumber < ipmiSlotSensorBase+ipmiMaxSlots:
		return int(sensorNumber) - ipmiSlotSensorBase, true
	}
	return 0, false
}
