package redfish

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bmcemu/bmcemu/conformance/schemacheck"
	"github.com/bmcemu/bmcemu/platform/events"
)

// sampleEvents is one of every platform fact translate knows, and one it
// does not.
func sampleEvents() []events.Event {
	s := "CPU0_DIMM_A2"
	return []events.Event{
		events.ModuleInserted{Slot: s}, events.ModuleRemoved{Slot: s}, events.PowerChanged{On: true}, events.PowerChanged{},
		events.LocationIndicatorChanged{Slot: s, On: true}, events.AttentionPressed{Slot: s, Intent: "insert"},
		events.AttentionIndicatorChanged{Slot: s, State: "Blinking"}, events.SlotPowerChanged{Slot: s, State: "Nominal", MilliVolts: 1100},
		events.SlotLatchChanged{Slot: s, Open: true}, events.SlotPresenceChanged{Slot: s, Present: true},
		events.SlotReady{Slot: s, For: "installation"}, events.SlotReady{Slot: s, For: "removal"},
		events.SPDAccepted{Slot: s, OperatingSpeedMTs: 4800}, events.SPDCheckFailed{Slot: s, Reason: "crc", Detail: "bad CRC"},
		events.BusNoise{Slot: s, Victims: []events.NoiseHit{{Slot: "CPU0_DIMM_A1", Correctable: 2, Uncorrectable: 1}}},
		events.BusNoiseRecovered{Slot: s, Victims: []string{"CPU0_DIMM_A1"}}, events.BusNoiseRecovered{}, events.SCIRaised{Slot: s, GPE: 1, Method: "_L01", Cause: "insert"},
		events.SurpriseRemoval{Slot: s, PowerState: "Nominal"}, events.MemoryTrained{Slot: s, SpeedMTs: 4800, MinEyePS: 20},
		events.TrainingFailed{Slot: s, Stage: "vref", Lane: -1, Reason: "eye closed"}, events.FirmwareFault{Slot: s, Fault: "calibration", Reason: "x"},
		events.ModuleParked{Slot: s, Serial: "123", Reason: "fault"}, events.AddressMapUpdated{Slot: s, Op: "add", Base: 1 << 40, Length: 1 << 35},
		events.AddressMapRejected{Slot: s, Reason: "no room"}, events.InterleaveChanged{Reason: "asymmetric"},
		unknownEvent{}, events.MemoryDataLost{Pages: 1, Reason: "unplaced"},
		events.PatternTestCompleted{Slot: s, Passed: true, Samples: 10}, events.PatternTestCompleted{Slot: s, Address: 0x1000},
		events.ACPINotify{Slot: s, Name: "Bus Check"}, events.ACPIOST{Slot: s, Meaning: "success"},
		events.MemoryHotAdded{Slot: s, Base: 1, Length: 2}, events.MemoryEjected{Slot: s}, events.EjectFailed{Slot: s, Reason: "busy"},
		events.FirmwareTimeout{Slot: s, Stage: "training"},
		events.KernelPagesMigrated{Slot: s, Pages: 3584, Movable: 32768, Unmovable: 131080}, unknownEvent{Slot: s},
		events.GuestMemoryChanged{Device: "virtio-mem", Op: "set-requested", Requested: 1 << 30, Bytes: 1 << 30},
		events.GuestMemoryChanged{Device: "pc-dimm", ID: "dimm0", Op: "plug", Bytes: 1 << 30},
		events.GuestMemoryChanged{Device: "balloon", Op: "set", Bytes: 1 << 30},
		events.RASModeApplied{Requested: "Mirroring", Mode: "Mirroring", RawBytes: 1 << 38, UsableBytes: 1 << 37},
		events.RASModeApplied{Requested: "RAID5", Mode: "AdvancedECC", ConfigError: "not on a cartridge"},
		events.MemoryCorrectableError{Slot: s, Rank: 1, Count: 3}, events.MemoryCEThresholdExceeded{Slot: s, Level: 10},
		events.MemoryCELoggingLimit{Slot: s}, events.MemoryUncorrectableError{Slot: s}, events.MemoryUncorrectableError{Slot: s, Recovered: true},
		events.MemoryDataLost{Slot: s, Address: 0x1000, Pages: 1, Reason: "no copy"}, events.MemoryDataLost{Pages: 3, Reason: "array failed"},
		events.MemorySpareActivated{Slot: s, SpareSlot: s, SpareRank: 1, Pages: 9},
		events.MemoryModuleMappedOut{Slot: s, Rank: -1, Reason: "mirror side disabled"}, events.MemoryModuleMappedOut{Slot: s, Rank: 0, Reason: "threshold"},
		events.MemoryRebuildStarted{Slot: s, Set: "Mirror0", Op: "resilver", Total: 10},
		events.MemoryRebuildProgress{Slot: s, Set: "Mirror0", Op: "resilver", Done: 5, Total: 10, Percent: 50},
		events.MemoryRebuildCompleted{Slot: s, Set: "Mirror0", Op: "resilver", Pages: 10},
		events.MemoryRedundancyChanged{Set: "Mirror0", State: events.FullyRedundant, Overall: events.FullyRedundant},
		events.MemoryRedundancyChanged{Set: "Mirror0", State: events.RedundancyLost, Overall: events.RedundancyLost},
		events.MemoryRedundancyChanged{Set: "RAID5", State: events.RedundancyDegraded, Overall: events.RedundancyDegraded},
		events.MemoryRedundancyChanged{Set: "RAID5", State: events.NonRedundant, Overall: events.NonRedundant},
		events.MemoryReplaceRefused{Slot: s, Reason: "mismatch"},
		events.RASModePending{Mode: "RankSparing"}, events.MemoryCapacityExpanded{Set: "RAID5", UsableBytes: 1 << 38, Reason: "next boot"},
		events.MemoryAwaitingPartner{Slot: s, Reason: "insert the partner"},
		events.BootOverrideChanged{Target: "Pxe", Enabled: "Once", Mode: "UEFI"},
		events.SystemRestarted{Cause: events.RestartPowerUp, BootCount: 1}, events.BootProgressChanged{State: "OSRunning", Code: 0xAE},
		events.BootAttemptFailed{Target: "Pxe", Device: "UEFI PXEv4", Reason: "PXE-E16: No valid offer received"},
		events.NoBootableDevice{Tried: []string{"Hdd"}}, events.OSBootCompleted{Target: "Hdd", Device: "UEFI OS (Disk 0)"},
		events.OSShutdown{}, events.OSShutdown{Reboot: true}, events.NMIRaised{Handled: true},
		events.BootOrderChanged{Order: []string{"Boot0001", "Boot0000"}},
		events.BiosSettingsStaged{Pending: []string{"BootMode"}}, events.BiosSettingsApplied{Attributes: []string{"BootMode", "AssetTag"}},
		events.SecureBootChanged{Enable: true, Keys: "Default"},
		events.VirtualMediaInserted{Device: "Cd", Image: "http://127.0.0.1/x.iso", Size: 1 << 20, SHA256: "ab"},
		events.VirtualMediaEjected{Device: "Usb", Image: "http://127.0.0.1/x.img"},
		events.FirmwareStaged{Component: "BIOS", Version: "2.1.0", SHA256: "ab"}, events.FirmwareActivated{Component: "BMC", From: "1.0", To: "1.1"},
		events.CXLDeviceChanged{Slot: "CXL1", Op: "inserted", Node: -1},
		events.CXLDeviceChanged{Slot: "CXL1", Op: "enabled", Memdev: "mem0", Region: "region0", Node: 2, Bytes: 256 << 30},
		events.CXLDeviceChanged{Slot: "CXL2", Op: "refused", Memdev: "mem1", Node: -1, Reason: "no CXL Fixed Memory Window"},
		events.CXLDeviceChanged{Slot: "CXL1", Op: "removal-refused", Region: "region0", Node: 2, Reason: "memory busy"},
		events.CXLDeviceChanged{Slot: "CXL1", Op: "disabled", Region: "region0", Node: 2},
		events.CXLDeviceChanged{Slot: "CXL1", Op: "pulled", Node: -1},
		events.CXLDeviceChanged{Slot: "CXL1", Op: "surprise", Region: "region0", Node: 2, Poisoned: 3, Leaked: 1 << 30},
		events.IOMMUFault{Slot: "CXL1", BDF: "0000:31:00.0", Addr: 0x1000, Write: true, Reason: "DMAR: [DMA Write] fault reason 0x05"},
	}
}

type unknownEvent struct{ Slot string }

func (unknownEvent) Kind() string { return "SomethingNew" }

func TestTranslateCoversEveryFact(t *testing.T) {
	for _, e := range sampleEvents() {
		specs := translate(e)
		if len(specs) == 0 {
			t.Errorf("%s: no events", e.Kind())
		}
		for _, sp := range specs {
			m, ok := eventMessages[sp.id]
			if !ok {
				t.Errorf("%s: unknown message %s", e.Kind(), sp.id)
				continue
			}
			if len(sp.args) != m.args {
				t.Errorf("%s: %s takes %d args, got %v", e.Kind(), sp.id, m.args, sp.args)
			}
		}
	}
	// Every RAS fact has its own message, not the fallback.
	for _, e := range sampleEvents() {
		if _, ok := e.(unknownEvent); !ok && translate(e)[0].id == oemRegistry+".PlatformEvent" {
			t.Errorf("%s falls back to PlatformEvent", e.Kind())
		}
	}
	if sp := translate(unknownEvent{Slot: "X"})[0]; sp.id != oemRegistry+".PlatformEvent" || sp.origin != memoryPath("X") {
		t.Errorf("fallback = %+v", sp)
	}
}

// TestEveryEventHasOrigin: a subscriber filtering by OriginResources, or
// a client following OriginOfCondition, must never get an event about
// nothing. Covers every sample fact, including the ones without a slot.
func TestEveryEventHasOrigin(t *testing.T) {
	s := "CPU0_DIMM_A2"
	// Facts that go out through the PlatformEvent fallback (or not at all
	// as their own message) still need an origin.
	all := append(sampleEvents(),
		events.FaultArmed{Slot: s, Fault: "ue"}, events.FaultCleared{Slot: s, Fault: "all"},
		events.MemoryRebuildAborted{Slot: s, Set: "Mirror0", Op: "resilver", Done: 1, Total: 2, Reason: "removed"},
		events.ChassisIdentifyChanged{State: "Lit"}, events.KernelMemoryAdded{Slot: s},
		events.KernelMemoryAddFailed{Slot: s, Errno: "EBUSY"}, events.KernelMemoryRemoved{Slot: s},
		events.KernelMemoryRemoveRefused{Slot: s, Block: -1, Errno: "EBUSY"},
		events.MemoryBlockChanged{Block: 3, State: "online"}, events.MemoryBlockChanged{Block: 3, State: "online", Slot: s})
	for _, e := range all {
		for _, sp := range translate(e) {
			if sp.origin == "" || !strings.HasPrefix(sp.origin, "/redfish/v1/") {
				t.Errorf("%s (%+v): %s has origin %q", e.Kind(), e, sp.id, sp.origin)
			}
		}
	}
	want := map[string]string{
		"InterleaveChanged": memoryDomainPath(),
		"BusNoiseRecovered": memoryPath("CPU0_DIMM_A2"),
	}
	// The samples must cover every fact the platform can raise, so a new
	// kind without an origin fails here rather than at a subscriber.
	seen := map[string]bool{}
	for _, e := range all {
		seen[e.Kind()] = true
	}
	for _, k := range platformEventKinds(t) {
		if !seen[k] {
			t.Errorf("platform event %s has no sample in sampleEvents", k)
		}
	}
	for _, e := range sampleEvents() {
		if w, ok := want[e.Kind()]; ok {
			if got := translate(e)[0].origin; got != w {
				t.Errorf("%s origin = %q, want %q", e.Kind(), got, w)
			}
			delete(want, e.Kind())
		}
	}
}

// platformEventKinds lists the types of platform/events with a Kind
// method, read from the source so a new kind cannot be forgotten.
func platformEventKinds(t *testing.T) []string {
	t.Helper()
	fset := gotoken.NewFileSet()
	dir := filepath.Join("..", "platform", "events")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read platform/events: %v", err)
	}
	var kinds []string
	for _, ent := range ents {
		name := ent.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			t.Fatalf("parse platform/events/%s: %v", name, err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Name.Name != "Kind" || len(fn.Recv.List) != 1 {
				continue
			}
			if id, ok := fn.Recv.List[0].Type.(*ast.Ident); ok {
				kinds = append(kinds, id.Name)
			}
		}
	}
	if len(kinds) == 0 {
		t.Fatal("no event kinds found in platform/events")
	}
	return kinds
}

func TestRegistries(t *testing.T) {
	dir := filepath.Join(filepath.Dir(schemacheck.NeedDir(t)), "registries")
	h := newHandlerCfg(t, newPlatform(t), Config{RegistryDir: dir})
	coll := getJSON(t, h, "/redfish/v1/Registries")
	// Base, ResourceEvent, Platform, AccountSecurity, LogService,
	// BmcemuMemory, BiosAttributeRegistry, BmcemuHost, TaskEvent, Update
	// and BmcemuCXL.
	if coll["Members@odata.count"] != 11.0 {
		t.Errorf("registries = %v", coll)
	}
	if te := getJSON(t, h, "/redfish/v1/Registries/TaskEvent"); te["Registry"] != taskEventRegistry {
		t.Errorf("TaskEvent = %v", te)
	}
	oem := getJSON(t, h, "/redfish/v1/Registries/BmcemuMemory")
	uri := path(t, oem, "Location", 0, "Uri").(string)
	reg := getJSON(t, h, uri)
	if reg["RegistryPrefix"] != "BmcemuMemory" || path(t, reg, "Messages", "MemoryHotAdded", "NumberOfArgs") != 4.0 {
		t.Errorf("OEM registry = %v", reg)
	}
	base := getJSON(t, h, "/redfish/v1/Registries/Base")
	if base["Registry"] != "Base.1.22.1" || path(t, base, "Location", 0, "PublicationUri") != "https://redfish.dmtf.org/registries/Base.1.22.1.json" {
		t.Errorf("Base = %v", base)
	}
	if b := getJSON(t, h, path(t, base, "Location", 0, "Uri").(string)); b["Id"] != "Base.1.22.1" {
		t.Errorf("Base document Id %v", b["Id"])
	}
	// Without the directory: listed, published by DMTF, not served here.
	h2 := newHandlerCfg(t, newPlatform(t), Config{})
	pf := getJSON(t, h2, "/redfish/v1/Registries/Platform")
	if _, ok := path(t, pf, "Location", 0).(map[string]any)["Uri"]; ok {
		t.Errorf("Platform served without RegistryDir: %v", pf)
	}
	if w := do(t, h2, http.MethodGet, "/redfish/v1/Registries/Platform/Platform.1.3.2"); w.Code != http.StatusNotFound {
		t.Errorf("Platform document without RegistryDir: %d", w.Code)
	}
	// The embedded OEM registry is a valid MessageRegistry.
	v := schemacheck.NewForTest(t)
	loc, _ := schemacheck.SchemaFor("#MessageRegistry.v1_7_0.MessageRegistry")
	if err := v.Validate(oemRegistryJSON, loc); err != nil {
		t.Error(err)
	}
}

// TestKernelPagesMigratedMessage: the migration after an interleave change
// has its own message, not the generic PlatformEvent fallback.
func TestKernelPagesMigratedMessage(t *testing.T) {
	specs := translate(events.KernelPagesMigrated{Slot: "CPU0_DIMM_A2", Node: 0, Pages: 3584, Movable: 32768, Unmovable: 131080})
	if len(specs) != 1 || specs[0].id != oemRegistry+".KernelPagesMigrated" || specs[0].origin != memoryPath("CPU0_DIMM_A2") ||
		strings.Join(specs[0].args, ",") != "CPU0_DIMM_A2,3584,32768,0,131080" {
		t.Fatalf("translate = %+v", specs)
	}
}

// TestOEMRegistrySeverities: every message of the project's registry
// carries MessageSeverity (the property DSP8010 wants since
// MessageRegistry v1_4_0) and the deprecated Severity with the same value.
// Severity stays although the DMTF Service Validator warns about it as
// deprecated: MessageRegistry.v1_7_0, the version declared and the newest
// in DSP8010 2025.4, still lists it as required (Redfish.Required in the
// CSDL, "required" in the JSON schema, as the schema check above
// enforces), and DMTF's own 2025.4 registries (Base.1.22.1) carry both.
func TestOEMRegistrySeverities(t *testing.T) {
	var reg struct {
		Type     string `json:"@odata.type"`
		Messages map[string]struct {
			Severity        *string
			MessageSeverity *string
		}
	}
	if err := json.Unmarshal(oemRegistryJSON, &reg); err != nil {
		t.Fatal(err)
	}
	if reg.Type != "#MessageRegistry.v1_7_0.MessageRegistry" {
		t.Errorf("@odata.type %q: re-check whether Severity is still required before changing it", reg.Type)
	}
	for id, m := range reg.Messages {
		switch {
		case m.MessageSeverity == nil:
			t.Errorf("%s: no MessageSeverity", id)
		case !slices.Contains([]string{"OK", "Warning", "Critical"}, *m.MessageSeverity):
			t.Errorf("%s: MessageSeverity %q is not a Resource.Health value", id, *m.MessageSeverity)
		case m.Severity == nil || *m.Severity != *m.MessageSeverity:
			t.Errorf("%s: Severity %v differs from MessageSeverity %q", id, m.Severity, *m.MessageSeverity)
		}
	}
}
