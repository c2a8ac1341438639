package platform

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/kernel"
	"github.com/bmcemu/bmcemu/platform/ras/ecc"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// The host: chassis power, the firmware's POST, the choice of a boot device
// and the OS it boots, and the ways a management controller drives them
// (DSP0268 ComputerSystem.Reset, IPMI v2.0 §28.3 Chassis Control). Every
// step takes simulated time on the platform clock, so `serve --speed`
// scales a boot like the hardware's other steps, and tests wait on the
// states below rather than on time.
//
//	Off --On--> PoweringOn (PSU ramp) --> POST: processors, memory
//	  (training; the memory subsystem is rebuilt: see layers.go), PCI
//	  --> boot device selection (the one-time override, then the boot
//	  order) --> OS boot --> OSRunning
//	OSRunning --GracefulShutdown--> OS shutdown --> Off
//	OSRunning --GracefulRestart--> OS shutdown --> warm reset --> POST
//	any powered state --ForceRestart--> POST; --ForceOff--> Off
//
// The in-band OS views (kernel, memory blocks, dmesg) and everything that
// goes through the OS (memory hot-plug, RAS workloads) exist only while
// the OS runs.

// Reset types: the DSP0268 ResetType values the host implements, one
// each for what a chassis can do.
const (
	ResetOn               = "On"
	ResetForceOff         = "ForceOff"
	ResetGracefulShutdown = "GracefulShutdown"
	ResetGracefulRestart  = "GracefulRestart"
	ResetForceRestart     = "ForceRestart"
	ResetNmi              = "Nmi"
	ResetPowerCycle       = "PowerCycle"
	ResetPushPowerButton  = "PushPowerButton"
)

// ResetTypes lists what Reset accepts, in a stable order.
func ResetTypes() []string {
	return []string{ResetOn, ResetForceOff, ResetGracefulShutdown, ResetGracefulRestart, ResetForceRestart, ResetNmi,
		ResetPowerCycle, ResetPushPowerButton}
}

// Host power states (the Redfish PowerState values).
const (
	PowerStateOff         = "Off"
	PowerStateOn          = "On"
	PowerStatePoweringOn  = "PoweringOn"
	PowerStatePoweringOff = "PoweringOff"
)

// Boot progress: DSP0268 BootProgress LastState values, the stages a
// UEFI firmware reports as it goes.
const (
	BootProgressNone              = "None"
	BootProgressPrimaryProcessor  = "PrimaryProcessorInitializationStarted"
	BootProgressMemoryInit        = "MemoryInitializationStarted"
	BootProgressSecondaryCPUs     = "SecondaryProcessorInitializationStarted"
	BootProgressPCIResourceConfig = "PCIResourceConfigStarted"
	BootProgressHardwareComplete  = "SystemHardwareInitializationComplete"
	BootProgressSetupEntered      = "SetupEntered"
	BootProgressOSBootStarted     = "OSBootStarted"
	BootProgressOSRunning         = "OSRunning"
)

// POST codes the firmware writes to port 80h at each stage (AMI Aptio's
// numbering, which most server boards' checkpoint displays follow).
const (
	postCPUInit     uint8 = 0x19 // pre-memory CPU initialization
	postMemoryInit  uint8 = 0x2B // memory initialization: SPD read, training
	postSecondary   uint8 = 0x63 // DXE: application processors started
	postPCI         uint8 = 0x92 // PCI bus initialization
	postReadyToBoot uint8 = 0xAD // ready to boot event
	postSetup       uint8 = 0xA8 // setup utility (BIOS setup) started
	postOSBoot      uint8 = 0xAE // legacy boot / exit boot services
	postNoBoot      uint8 = 0x9B // BDS: no boot option succeeded
)

var (
	// ErrHostOff: the action needs the host powered.
	ErrHostOff = errors.New("the host is powered off")
	// ErrOSNotRunning: the action needs the host's operating system,
	// which is not running (the host is in POST, in its setup utility,
	// found nothing to boot, or is shutting down).
	ErrOSNotRunning = errors.New("the host's OS is not running")
	// ErrUnknownReset: a reset type the host does not implement.
	ErrUnknownReset = errors.New("unknown reset type")
)

// hostStateError is a refusal because of the host's state: it is both its
// kind (ErrHostOff, ErrOSNotRunning) and ErrWrongState, which every
// surface already maps, without ErrWrongState's wording about slots.
type hostStateError struct {
	op, detail string
	kind       error
}

func (e *hostStateError) Error() string {
	if e.detail != "" {
		return e.op + ": " + e.kind.Error() + " (" + e.detail + ")"
	}
	return e.op + ": " + e.kind.Error()
}

func (e *hostStateError) Is(target error) bool { return target == ErrWrongState || target == e.kind }

func hostOff(op string) error { return &hostStateError{op: op, kind: ErrHostOff} }

func osNotRunning(op string, h HostStatus) error {
	d := h.BootProgress
	if h.ShuttingDown {
		d = "shutting down"
	} else if h.Reason != "" {
		d = h.Reason
	}
	return &hostStateError{op: op, detail: d, kind: ErrOSNotRunning}
}

// HostTiming are the host's step durations in simulated time.
type HostTiming struct {
	PowerOn       time.Duration // PSU ramp to power good
	CPUInit       time.Duration // pre-memory processor initialization
	PCIInit       time.Duration // bus enumeration and option ROMs
	DHCPTimeouts  []time.Duration
	MediaRead     time.Duration // reading a boot image
	OSBoot        time.Duration // boot loader, kernel and init, to a login prompt
	Shutdown      time.Duration // the OS stopping its services
	PowerCycleOff time.Duration // how long a power cycle keeps the power off
	Flash         time.Duration // writing a system firmware update at POST
}

// DefaultHostTiming: a server at real pace takes about half a minute from
// power button to login prompt when nothing makes it wait (a PXE attempt
// without a DHCP server adds the client's 4, 8 and 16 s timeouts).
func DefaultHostTiming() HostTiming {
	return HostTiming{PowerOn: time.Second, CPUInit: 2 * time.Second, PCIInit: 3 * time.Second,
		DHCPTimeouts: []time.Duration{4 * time.Second, 8 * time.Second, 16 * time.Second},
		MediaRead:    2 * time.Second, OSBoot: 8 * time.Second, Shutdown: 5 * time.Second, PowerCycleOff: 2 * time.Second,
		Flash: 20 * time.Second}
}

func (t HostTiming) withDefaults() HostTiming {
	d := DefaultHostTiming()
	for _, f := range []struct{ v, d *time.Duration }{{&t.PowerOn, &d.PowerOn}, {&t.CPUInit, &d.CPUInit}, {&t.PCIInit, &d.PCIInit},
		{&t.MediaRead, &d.MediaRead}, {&t.OSBoot, &d.OSBoot}, {&t.Shutdown, &d.Shutdown}, {&t.PowerCycleOff, &d.PowerCycleOff},
		{&t.Flash, &d.Flash}} {
		if *f.v <= 0 {
			*f.v = *f.d
		}
	}
	if len(t.DHCPTimeouts) == 0 {
		t.DHCPTimeouts = d.DHCPTimeouts
	}
	return t
}

// BootAttempt is one device the firmware tried during a boot.
type BootAttempt struct {
	Target string `json:"target"`
	Device string `json:"device"`
	// Outcome is "booted" or why the device did not boot.
	Outcome string `json:"outcome"`
}

// HostStatus is the host's power and boot state.
type HostStatus struct {
	PowerState   string    `json:"power_state"`
	BootProgress string    `json:"boot_progress"`
	ProgressAt   time.Time `json:"progress_at,omitzero"`
	// PostCode is the last POST code (port 80h).
	PostCode uint8 `json:"post_code"`
	// OSRunning: the in-band OS is up (its views exist).
	OSRunning    bool `json:"os_running"`
	ShuttingDown bool `json:"shutting_down,omitempty"`
	// BootCount counts POSTs since the BMC started; Cause is what started
	// the last one (events.Restart*).
	BootCount uint64 `json:"boot_count"`
	Cause     string `json:"cause,omitempty"`
	// Override is the boot override the last POST read (nil: none was
	// enabled).
	Override *BootOverride `json:"override,omitempty"`
	// BootTarget and BootDevice are what the running OS booted from.
	BootTarget string        `json:"boot_target,omitempty"`
	BootDevice string        `json:"boot_device,omitempty"`
	Attempts   []BootAttempt `json:"attempts,omitempty"`
	// Reason says why a powered host runs no OS (nothing bootable).
	Reason string `json:"reason,omitempty"`
}

// hostState is the host's mutable state, under p.mu.
type hostState struct {
	HostStatus
	// seq identifies the running sequence (boot, shutdown, power cycle):
	// every transition that supersedes it takes a new one, and a step
	// scheduled for an older one does nothing.
	seq uint64
}

func (h *hostState) status() HostStatus {
	s := h.HostStatus
	s.Attempts = slices.Clone(h.Attempts)
	if h.Override != nil {
		o := *h.Override
		s.Override = &o
	}
	return s
}

// initHost sets the state the BMC finds the host in when it starts: with
// power on, the host booted from its disk before (the emulator's start is
// that boot, instantly); otherwise off.
func (p *Platform) initHost() {
	p.host = hostState{HostStatus: HostStatus{PowerState: PowerStateOff, BootProgress: BootProgressNone}}
	if p.powerOn {
		p.host.PowerState = PowerStateOn
		p.host.BootProgress = BootProgressOSRunning
		p.host.OSRunning = true
		p.host.PostCode = postOSBoot
		p.host.BootTarget, p.host.BootDevice = BootTargetHdd, bootOptionName(BootTargetHdd, p.prof.System.SerialNumber)
		p.host.ProgressAt = p.clock.Now()
	}
}

// startedBooted completes the state of a host found running when the BMC
// starts: its boot (the emulator's start) applied the staged BIOS settings
// and decided secure boot, as a POST does.
func (p *Platform) startedBooted(boot map[string]SavedModule) {
	var installed uint64
	for _, sm := range boot {
		if m, err := spd.Decode(sm.SPD); err == nil {
			installed += m.CapacityMiB << 20
		}
	}
	p.mu.Lock()
	p.postMemory = installed
	p.mu.Unlock()
	if !p.powerOn {
		return
	}
	if err := p.applyBiosLocked(); err != nil {
		p.log.Error("staged BIOS settings not applied", "err", err)
	}
	uefi := p.biosSetting(biosBootMode) == BiosBootModeUefi
	p.mu.Lock()
	p.secureCurrent = p.secure.Enable && p.secure.Keys == "Default" && uefi
	p.mu.Unlock()
}

// Reset does what DSP0268's ResetType kind asks of the host:
//
//	On                power on (nothing if on)
//	ForceOff          cut the power at once (nothing if off)
//	GracefulShutdown  ACPI power button: the running OS shuts down and
//	                  powers off; without a running OS (POST) the firmware
//	                  powers off at once
//	GracefulRestart   the running OS shuts down and restarts (warm reset);
//	                  without one, the firmware resets
//	ForceRestart      the reset line: POST again at once
//	Nmi               a diagnostic interrupt to the running OS
//	PowerCycle        power off, wait, power on
//	PushPowerButton   a momentary press: power on when off, else as
//	                  GracefulShutdown
//
// A restart of a host that is off powers it on, as the restart's second
// half. Nmi needs a running OS (ErrHostOff, ErrOSNotRunning). Reset returns
// once the action is under way; follow it in Snapshot().Host.
func (p *Platform) Reset(kind string) error {
	if !slices.Contains(ResetTypes(), kind) {
		return fmt.Errorf("reset %q: %w: want one of %v", kind, ErrUnknownReset, ResetTypes())
	}
	p.opMu.Lock()
	defer p.opMu.Unlock()
	defer p.hold()()
	p.mu.Lock()
	h := p.host.status()
	on := p.powerOn
	p.mu.Unlock()
	switch {
	case kind == ResetNmi && !on:
		return hostOff("reset " + kind)
	case kind == ResetNmi && (!h.OSRunning || h.ShuttingDown):
		return osNotRunning("reset "+kind, h)
	case kind == ResetNmi:
		p.nmiLocked()
		return nil
	case kind == ResetOn:
		if on {
			return nil
		}
		return p.powerOnLocked()
	case kind == ResetForceOff:
		if !on {
			return nil
		}
		return p.powerOffLocked()
	case kind == ResetGracefulShutdown || kind == ResetPushPowerButton:
		switch {
		case !on && kind == ResetPushPowerButton:
			return p.powerOnLocked()
		case !on, h.ShuttingDown:
			return nil
		case h.OSRunning:
			p.shutdownLocked(false)
			return nil
		}
		// No OS has taken over the power button: the firmware turns the
		// power off as soon as it is pressed.
		return p.powerOffLocked()
	case !on:
		// Restarting a host that is off is powering it on.
		return p.powerOnLocked()
	case kind == ResetGracefulRestart:
		switch {
		case h.ShuttingDown:
			return osNotRunning("reset "+kind, h)
		case h.OSRunning:
			p.shutdownLocked(true)
			return nil
		}
		return p.resetLocked(events.RestartWarmReset)
	case kind == ResetForceRestart:
		return p.resetLocked(events.RestartHardReset)
	default: // PowerCycle
		if err := p.powerOffLocked(); err != nil {
			return err
		}
		p.mu.Lock()
		seq := p.host.seq
		p.mu.Unlock()
		p.after(seq, p.timing().PowerCycleOff, func() {
			if err := p.powerOnLocked(); err != nil {
				p.log.Error("power cycle: power on failed", "err", err)
			}
		})
		return nil
	}
}

// SetPower turns the host on or off: On or ForceOff. Turning it to the
// state it is already in is not an error, as on a real chassis.
func (p *Platform) SetPower(on bool) error {
	if on {
		return p.Reset(ResetOn)
	}
	return p.Reset(ResetForceOff)
}

// HostReset is a reset of the host (a hard reset line, not a power cycle):
// the host boots again. It is refused while the host is off, as a real
// chassis has nothing to reset.
func (p *Platform) HostReset() error {
	if !p.Snapshot().PowerOn {
		return hostOff("host reset")
	}
	return p.Reset(ResetForceRestart)
}

func (p *Platform) timing() HostTiming { return p.opts.HostTiming.withDefaults() }

// after runs f after d of simulated time under opMu, unless the host has
// moved on from sequence seq by then.
func (p *Platform) after(seq uint64, d time.Duration, f func()) {
	p.clock.AfterFunc(d, func() {
		p.opMu.Lock()
		defer p.opMu.Unlock()
		p.mu.Lock()
		cur := p.host.seq
		p.mu.Unlock()
		if cur == seq {
			f()
		}
	})
}

// nextSeq starts a new sequence, ending whatever the host was doing, and
// stops the running boot's hardware steps. Caller holds opMu.
func (p *Platform) nextSeq() uint64 {
	if l := p.l(); l != nil {
		l.dead.Store(true)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.host.seq++
	p.host.OSRunning, p.host.ShuttingDown = false, false
	return p.host.seq
}

// powerOnLocked turns the chassis power on; POST starts once the power
// supply reports power good. The boot override is read (a Once override
// consumed) now, saved with the power state. Caller holds opMu.
func (p *Platform) powerOnLocked() error {
	p.mu.Lock()
	mods := maps(p.saved)
	prevBoot := p.boot
	p.mu.Unlock()
	nextBoot := consumed(prevBoot)
	if err := p.saveBoot(mods, true, nextBoot, prevBoot); err != nil {
		return fmt.Errorf("power on: %w", err)
	}
	seq := p.nextSeq()
	p.mu.Lock()
	p.host.PowerState, p.host.BootProgress, p.host.PostCode, p.host.Reason = PowerStatePoweringOn, BootProgressNone, 0, ""
	p.host.ProgressAt = p.clock.Now()
	p.host.Override = latched(prevBoot)
	p.mu.Unlock()
	p.publish(p.clock.Now(), events.PowerChanged{On: true})
	if nextBoot != prevBoot {
		p.publish(p.clock.Now(), bootChanged(nextBoot, true))
	}
	p.after(seq, p.timing().PowerOn, func() { p.post(seq, events.RestartPowerUp) })
	return nil
}

// powerOffLocked cuts the power: the OS and whatever the hardware was
// doing stop where they are. The memory subsystem is rebuilt idle from the
// seated modules, as they sit in an unpowered chassis. Caller holds opMu.
func (p *Platform) powerOffLocked() error {
	p.mu.Lock()
	mods := maps(p.saved)
	p.mu.Unlock()
	if err := p.save(mods, false); err != nil {
		return fmt.Errorf("power off: %w", err)
	}
	p.nextSeq()
	p.mu.Lock()
	p.host.PowerState, p.host.BootProgress, p.host.PostCode, p.host.Reason = PowerStateOff, BootProgressNone, 0, ""
	p.host.ProgressAt = p.clock.Now()
	p.host.BootTarget, p.host.BootDevice = "", ""
	p.mu.Unlock()
	if err := p.coldAssemble(); err != nil {
		p.log.Error("memory subsystem not rebuilt after power off", "err", err)
	}
	p.publish(p.clock.Now(), events.PowerChanged{On: false})
	return nil
}

// resetLocked pulls the reset line of a powered host: POST starts again
// at once, and the boot override is read anew. Caller holds opMu.
func (p *Platform) resetLocked(cause string) error {
	p.mu.Lock()
	mods := maps(p.saved)
	prev := p.boot
	p.mu.Unlock()
	e, err := p.consumeOnce(mods, true)
	if err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	seq := p.nextSeq()
	p.mu.Lock()
	p.host.PowerState, p.host.Reason = PowerStateOn, ""
	p.host.Override = latched(prev)
	p.mu.Unlock()
	if e != nil {
		p.publish(p.clock.Now(), *e)
	}
	p.post(seq, cause)
	return nil
}

// consumed is the override left after a boot read it.
func consumed(o BootOverride) BootOverride {
	if o.Enabled == BootOverrideOnce {
		o.Enabled = BootOverrideDisabled
	}
	return o
}

// latched is the override a boot honours, nil when none is enabled.
func latched(o BootOverride) *BootOverride {
	if o.Enabled == BootOverrideDisabled || o.Target == BootTargetNone {
		return nil
	}
	return &o
}

// progress records a boot stage and publishes it. Caller holds opMu.
func (p *Platform) progress(state string, code uint8) {
	now := p.clock.Now()
	p.mu.Lock()
	p.host.BootProgress, p.host.PostCode, p.host.ProgressAt = state, code, now
	if state == BootProgressOSRunning {
		p.host.OSRunning = true
	}
	p.mu.Unlock()
	p.publish(now, events.BootProgressChanged{State: state, Code: code})
}

// post is the firmware's power-on self test, from the reset vector to the
// boot device selection. The settings staged for this boot are applied
// first (as a BIOS does before it initializes anything they govern).
func (p *Platform) post(seq uint64, cause string) {
	t := p.timing()
	if err := p.applyBiosLocked(); err != nil {
		p.log.Error("staged BIOS settings not applied", "err", err)
	}
	p.mu.Lock()
	p.host.PowerState = PowerStateOn
	p.host.BootCount++
	n := p.host.BootCount
	p.host.Cause, p.host.Attempts, p.host.BootTarget, p.host.BootDevice = cause, nil, "", ""
	p.mu.Unlock()
	p.publish(p.clock.Now(), events.SystemRestarted{Cause: cause, BootCount: n})
	sys := p.prof.System
	p.mu.Lock()
	version := p.biosVersionLocked()
	p.mu.Unlock()
	p.fwPrintf("\n%s %s\nBIOS Version %s\nSystem serial number %s\n", sys.Manufacturer, sys.Model, version, sys.SerialNumber)
	if tag, _ := p.biosSetting("AssetTag").(string); tag != "" {
		p.fwPrintf("Asset Tag %s\n", tag)
	}
	if !p.flashBIOS(seq) {
		return
	}
	p.fwPrintf("Initializing processors: %d sockets, Hyper-Threading %s, VT-x %s\n", p.prof.Memory.Sockets,
		strings.ToLower(fmt.Sprint(p.biosSetting("ProcHyperthreading"))), strings.ToLower(fmt.Sprint(p.biosSetting("ProcVirtualization"))))
	p.progress(BootProgressPrimaryProcessor, postCPUInit)
	p.after(seq, t.CPUInit, func() { p.memoryInit(seq) })
}

// memoryInit runs the memory reference code: every seated module is
// trained, and the memory subsystem of this boot is built (address map,
// the RAS mode the firmware setting asks for, the OS's memory map).
func (p *Platform) memoryInit(seq uint64) {
	p.progress(BootProgressMemoryInit, postMemoryInit)
	p.mu.Lock()
	mods := maps(p.saved)
	p.mu.Unlock()
	old := p.l()
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	l, err := p.assemble(mods, old.ras.lifetimes(names), p.bootRASMode())
	if err != nil {
		p.halt(seq, fmt.Sprintf("memory initialization failed: %v", err), postMemoryInit)
		return
	}
	p.hw.Store(l)
	p.publish(p.clock.Now(), l.ras.applied())

	// Sockets train their channels in parallel, each its modules in turn.
	perSocket := map[int]int{}
	ft := p.opts.FirmwareTiming
	if ft.Training <= 0 || ft.Vref <= 0 {
		def := firmware.DefaultTiming()
		ft.Training, ft.Vref = def.Training, def.Vref
	}
	var installed uint64
	for _, s := range p.slots {
		sm, ok := mods[s.Name]
		if !ok {
			continue
		}
		m, err := spd.Decode(sm.SPD)
		if err != nil {
			continue
		}
		perSocket[s.Socket]++
		installed += m.CapacityMiB << 20
		speed := min(m.SpeedMTs, p.prof.Memory.SpeedMTs)
		res := firmware.TrainAtPOST(m, s, speed, p.faults)
		p.fwPrintf("Memory training: %s %s-%d %s %d GiB: %s, eye %d ps, Vref %.1f%%\n", s.Name, m.Type, res.SpeedMTs, m.BaseModule,
			m.CapacityMiB>>10, passFail(res.Pass), res.MinEyePS(), res.VrefPercent)
	}
	p.mu.Lock()
	p.postMemory = installed
	p.mu.Unlock()
	most := 0
	for _, n := range perSocket {
		most = max(most, n)
	}
	plan := l.ras.applied()
	p.fwPrintf("Memory: %d GiB installed, %d GiB usable, RAS mode %s\n", installed>>30, plan.UsableBytes>>30, plan.Mode)
	if plan.ConfigError != "" {
		p.fwPrintf("Memory configuration error: %s\n", plan.ConfigError)
	}
	took := time.Duration(most) * (ft.Training + ft.Vref)
	if p.biosSetting("MemoryTest") == true {
		// The extended test writes and reads back every module: a second
		// per 64 GiB a socket holds, sockets in parallel.
		took += time.Duration(installed>>36) * time.Second / time.Duration(max(p.prof.Memory.Sockets, 1))
		p.fwPrintf("Extended memory test: %d GiB: pass\n", installed>>30)
	}
	p.after(seq, took, func() { p.pciInit(seq) })
}

func passFail(ok bool) string {
	if ok {
		return "pass"
	}
	return "FAIL"
}

// pciInit starts the other processors and enumerates the buses; the
// network controller's UEFI driver reports the port the host PXE-boots
// from. Then POST waits at its setup prompt (PostPromptTimeout).
func (p *Platform) pciInit(seq uint64) {
	p.progress(BootProgressSecondaryCPUs, postSecondary)
	p.progress(BootProgressPCIResourceConfig, postPCI)
	rom := "PXE boot ROM enabled"
	if p.biosSetting("PxeDev1EnDis") == "Disabled" {
		rom = "PXE boot ROM disabled"
	}
	p.fwPrintf("PCI: enumerating buses, SR-IOV %s\nNIC.Integrated.1-1: Ethernet controller, MAC %s, %s\n",
		strings.ToLower(fmt.Sprint(p.biosSetting("SriovGlobalEnable"))), HostNICMAC(p.prof.System.SerialNumber), rom)
	wait := time.Duration(p.biosSetting("PostPromptTimeout").(int64)) * time.Second
	if wait > 0 {
		p.fwPrintf("Press <F2> to enter Setup, <F11> for the Boot Manager, <F12> for network boot\n")
	}
	p.after(seq, p.timing().PCIInit+wait, func() { p.selectBoot(seq) })
}

// bootAttempt is one entry of the boot manager's queue.
type bootAttempt struct {
	target string
	uefi   bool
}

// selectBoot is the boot manager (UEFI BDS): the override first, when the
// BMC set one, then the boot order, each device until one boots. The
// override carries its own mode (UEFI or legacy); the order boots in the
// BootMode setting's.
func (p *Platform) selectBoot(seq uint64) {
	p.progress(BootProgressHardwareComplete, postReadyToBoot)
	uefi := p.biosSetting(biosBootMode) == BiosBootModeUefi
	p.secureBootAtPOST(uefi)
	p.mu.Lock()
	o := p.host.Override
	p.mu.Unlock()
	if o != nil && o.Target == BootTargetBiosSetup {
		p.fwPrintf("Entering Setup...\n")
		p.progress(BootProgressSetupEntered, postSetup)
		return
	}
	var queue []bootAttempt
	if o != nil {
		p.fwPrintf("Boot override from the BMC: %s (%s, %s)\n", o.Target, o.Enabled, o.Mode)
		queue = append(queue, bootAttempt{target: o.Target, uefi: o.Mode == BootModeUEFI})
	}
	for _, bo := range p.BootOptions() {
		if bo.Enabled && !slices.ContainsFunc(queue, func(a bootAttempt) bool { return a.target == bo.Target && a.uefi == uefi }) {
			queue = append(queue, bootAttempt{target: bo.Target, uefi: uefi})
		}
	}
	p.tryBoot(seq, queue, nil)
}

// tryBoot tries queue[0]; failed collects the targets that did not boot.
func (p *Platform) tryBoot(seq uint64, queue []bootAttempt, failed []string) {
	if len(queue) == 0 {
		p.noBoot(seq, failed)
		return
	}
	at, rest := queue[0], queue[1:]
	target := at.target
	name := bootOptionName(target, p.prof.System.SerialNumber)
	if !at.uefi {
		name = legacyBootName(target)
	}
	fail := func(reason string) {
		p.fwPrintf("Boot option %q failed: %s\n", name, reason)
		p.mu.Lock()
		p.host.Attempts = append(p.host.Attempts, BootAttempt{Target: target, Device: name, Outcome: reason})
		p.mu.Unlock()
		p.publish(p.clock.Now(), events.BootAttemptFailed{Target: target, Device: name, Reason: reason})
		p.tryBoot(seq, rest, append(failed, target))
	}
	p.mu.Lock()
	enforced := p.secureCurrent
	p.mu.Unlock()
	if !at.uefi && enforced {
		fail("legacy boot is not permitted while Secure Boot is enforced")
		return
	}
	switch target {
	case BootTargetHdd:
		// The disk's EFI system partition (or, legacy, its MBR) holds the
		// boot loader.
		p.fwPrintf("Booting %s\n", name)
		p.after(seq, p.timing().MediaRead, func() { p.osBoot(seq, target, name) })
	case BootTargetPxe:
		if p.biosSetting("PxeDev1EnDis") == "Disabled" {
			fail("the NIC's PXE boot ROM is disabled (PxeDev1EnDis)")
			return
		}
		p.pxeBoot(seq, name, at.uefi, 0, fail)
	case BootTargetCd, BootTargetUsb:
		p.mediaBoot(seq, target, name, at.uefi, fail)
	case BootTargetDiags:
		fail("no diagnostic partition on Disk 0")
	case BootTargetRemoteDisk:
		fail("no iSCSI or NVMe-oF target is configured")
	default:
		fail("not a boot device")
	}
}

// legacyBootName is a device as a legacy BIOS boot menu names it.
func legacyBootName(target string) string {
	switch target {
	case BootTargetHdd:
		return "Hard Disk 0"
	case BootTargetPxe:
		return "Integrated NIC 1 Port 1 (PXE)"
	case BootTargetCd:
		return "Virtual CD"
	case BootTargetUsb:
		return "Virtual Floppy/USB"
	}
	return target
}

// pxeBoot is the PXE client of the host's first NIC: DHCPDISCOVER from
// the port's MAC, each unanswered one repeated after a longer wait (RFC
// 2131 §4.1's back-off, the client's 4, 8, 16 s). The emulated
// provisioning network has no DHCP server: the client gives up with its
// driver's message (UEFI PXE-E16; the legacy boot agent's PXE-E51) and the
// boot manager moves on.
func (p *Platform) pxeBoot(seq uint64, name string, uefi bool, try int, fail func(string)) {
	t := p.timing()
	mac := HostNICMAC(p.prof.System.SerialNumber)
	if try == 0 {
		if uefi {
			p.fwPrintf(">>Start PXE over IPv4 on MAC: %s\n", strings.ToUpper(mac.String()))
		} else {
			p.fwPrintf("Intel(R) Boot Agent PXE Base Code (PXE-2.1)\nCLIENT MAC ADDR: %s\n",
				strings.ToUpper(strings.ReplaceAll(mac.String(), ":", " ")))
		}
	}
	if try == len(t.DHCPTimeouts) {
		if uefi {
			fail("PXE-E16: No valid offer received")
		} else {
			fail("PXE-E51: No DHCP or proxy DHCP offers were received")
		}
		return
	}
	xid := uint32(p.prof.System.SerialNumber[0])<<24 | uint32(seq&0xFFFF)<<8 | uint32(try)
	p.fwPrintf("  DHCPDISCOVER from %s (xid 0x%08x, attempt %d)\n", mac, xid, try+1)
	p.after(seq, t.DHCPTimeouts[try], func() { p.pxeBoot(seq, name, uefi, try+1, fail) })
}

// osBoot starts the OS from a device that booted: the kernel comes up on
// the memory map this POST built, its boot log goes to the serial console
// (console=ttyS0), and a getty waits at a login prompt.
func (p *Platform) osBoot(seq uint64, target, device string) {
	p.progress(BootProgressOSBootStarted, postOSBoot)
	p.mu.Lock()
	enforced := p.secureCurrent
	p.mu.Unlock()
	// efi_secureboot: the kernel reads the firmware's SecureBoot variable.
	if enforced {
		p.l().kern.Printk(kernel.KernInfo, "secureboot: Secure boot enabled")
	} else {
		p.l().kern.Printk(kernel.KernInfo, "secureboot: Secure boot disabled")
	}
	t := p.timing()
	p.after(seq, t.OSBoot/2, func() {
		for _, ln := range p.l().kern.Dmesg(0) {
			p.printf("%s\n", ln.String())
		}
		p.after(seq, t.OSBoot-t.OSBoot/2, func() {
			p.mu.Lock()
			p.host.BootTarget, p.host.BootDevice = target, device
			p.host.Attempts = append(p.host.Attempts, BootAttempt{Target: target, Device: device, Outcome: "booted"})
			p.mu.Unlock()
			p.progress(BootProgressOSRunning, postOSBoot)
			p.printf("\n%s login: ", hostName)
			p.publish(p.clock.Now(), events.OSBootCompleted{Target: target, Device: device})
		})
	})
}

// hostName is the host's OS hostname, as its getty prints it.
const hostName = "bmcemu-host"

// noBoot: nothing booted; the firmware waits for a reset.
func (p *Platform) noBoot(seq uint64, tried []string) {
	p.fwPrintf("No bootable device found. Press any key to reboot the machine.\n")
	p.mu.Lock()
	p.host.Reason = "no bootable device: tried " + strings.Join(tried, ", ")
	p.host.PostCode = postNoBoot
	p.mu.Unlock()
	p.publish(p.clock.Now(), events.NoBootableDevice{Tried: tried})
}

// halt stops POST with an error.
func (p *Platform) halt(seq uint64, reason string, code uint8) {
	p.fwPrintf("POST halted: %s\n", reason)
	p.mu.Lock()
	p.host.Reason, p.host.PostCode = reason, code
	p.mu.Unlock()
	p.log.Error("POST halted", "reason", reason)
}

// shutdownLocked is the OS answering the ACPI power button (or a reboot
// request): systemd stops the services, then powers off or restarts.
// Caller holds opMu.
func (p *Platform) shutdownLocked(reboot bool) {
	p.mu.Lock()
	p.host.seq++
	seq := p.host.seq
	p.host.ShuttingDown = true
	if !reboot {
		p.host.PowerState = PowerStatePoweringOff
	}
	p.mu.Unlock()
	if l := p.l(); l != nil && l.kern != nil {
		l.kern.Printk(kernel.KernInfo, "ACPI: button: power button pressed")
	}
	what := "Power-Off"
	if reboot {
		what = "Reboot"
	}
	p.printf("\n         Stopping all remaining services...\n[  OK  ] Reached target System %s.\n", what)
	p.refresh()
	p.after(seq, p.timing().Shutdown, func() {
		if reboot {
			p.printf("reboot: Restarting system\n")
			p.publish(p.clock.Now(), events.OSShutdown{Reboot: true})
			if err := p.resetLocked(events.RestartWarmReset); err != nil {
				p.log.Error("restart after OS shutdown failed", "err", err)
			}
			return
		}
		p.printf("reboot: Power down\n")
		p.publish(p.clock.Now(), events.OSShutdown{})
		if err := p.powerOffLocked(); err != nil {
			p.log.Error("power off after OS shutdown failed", "err", err)
		}
	})
}

// nmiLocked delivers a diagnostic interrupt: Linux, with no handler
// claiming it, logs it as an unknown NMI and carries on (the behaviour of
// default_do_nmi without panic_on_unrecovered_nmi). Caller holds opMu.
func (p *Platform) nmiLocked() {
	k := p.l().kern
	for _, s := range []string{"Uhhuh. NMI received for unknown reason 3d on CPU 0.",
		"Do you have a strange power saving mode enabled?", "Dazed and confused, but trying to continue"} {
		k.Printk(kernel.KernEmerg, "%s", s)
	}
	lines := k.Dmesg(0)
	for _, ln := range lines[max(len(lines)-3, 0):] {
		p.printf("%s\n", ln.String())
	}
	p.publish(p.clock.Now(), events.NMIRaised{Handled: true})
}

// consoleInput is a keystroke on the host's serial port: a running OS's
// getty echoes it and answers Enter with a new login prompt.
func (p *Platform) consoleInput(b []byte) {
	p.mu.Lock()
	running := p.host.OSRunning && !p.host.ShuttingDown
	p.mu.Unlock()
	if !running {
		return
	}
	var out strings.Builder
	for _, c := range b {
		switch {
		case c == '\r' || c == '\n':
			out.WriteString("\n" + hostName + " login: ")
		case c >= 0x20 && c < 0x7f:
			out.WriteByte(c)
		}
	}
	p.console.write(p.clock.Now(), out.String())
}

// needOS refuses an operation that goes through the host's OS while it
// does not run: memory hot-plug is the OS's (ACPI, the kernel's
// acpi_memhotplug), and so are the RAS workload and the OS's memory blocks.
func (p *Platform) needOS(op string) error {
	p.mu.Lock()
	h := p.host.HostStatus
	on := p.powerOn
	p.mu.Unlock()
	switch {
	case !on:
		return hostOff(op)
	case !h.OSRunning || h.ShuttingDown:
		return osNotRunning(op, h)
	}
	return nil
}

// coldAssemble rebuilds the memory subsystem of a host that is off from
// the modules seated now, idle (no step of it runs): what the next POST
// will find. Caller holds opMu.
func (p *Platform) coldAssemble() error {
	p.mu.Lock()
	mods := maps(p.saved)
	mode := p.appliedRAS
	p.mu.Unlock()
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	var lifetimes map[string]ecc.Counters
	if old := p.l(); old != nil {
		lifetimes = old.ras.lifetimes(names)
	}
	l, err := p.assemble(mods, lifetimes, mode)
	if err != nil {
		return err
	}
	l.dead.Store(true)
	p.hw.Store(l)
	p.refresh()
	return nil
}

// bootRASMode is the memory RAS mode a POST applies: the firmware setting
// for the next boot. It is remembered as the mode in effect.
func (p *Platform) bootRASMode() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.appliedRAS = p.rasMode
	return p.rasMode
}

// coldInsert seats a module in a chassis that is off: no hot-plug runs (the
// slots have no power); the module is in the inventory and boots with the
// host. A module the board cannot take is refused now, as its SPD check
// at the next POST would. Caller holds opMu.
func (p *Platform) coldInsert(i int, slot string, img []byte) (*Module, error) {
	p.mu.Lock()
	mods := maps(p.saved)
	p.mu.Unlock()
	if cur, ok := mods[slot]; ok {
		serial := "?"
		if m, err := spd.Decode(cur.SPD); err == nil {
			serial = m.SerialNumber
		}
		return nil, fmt.Errorf("insert into %s: %w (holds %s)", slot, ErrSlotOccupied, serial)
	}
	now := p.clock.Now()
	mod, err := decodeModule(img, now)
	if err != nil {
		return nil, fmt.Errorf("insert into %s: %w", slot, err)
	}
	mods[slot] = SavedModule{SPD: mod.Image, InsertedAt: now}
	if err := p.save(mods, false); err != nil {
		return nil, fmt.Errorf("insert into %s: %w", slot, err)
	}
	if err := p.coldAssemble(); err != nil {
		delete(mods, slot)
		if serr := p.save(mods, false); serr != nil {
			p.log.Error("could not undo the saved insertion", "slot", slot, "err", serr)
		}
		return nil, fmt.Errorf("insert into %s: %w: %w", slot, ErrBadModule, err)
	}
	p.mu.Lock()
	p.inserted[i] = now
	p.mu.Unlock()
	p.publish(now, events.ModuleInserted{Slot: slot, Module: mod.SPD})
	return mod, nil
}

// coldRemove pulls a module out of a chassis that is off. Caller holds
// opMu.
func (p *Platform) coldRemove(i int, slot string) (*Module, error) {
	p.mu.Lock()
	mods := maps(p.saved)
	at := p.inserted[i]
	p.mu.Unlock()
	sm, ok := mods[slot]
	if !ok {
		return nil, fmt.Errorf("remove from %s: %w", slot, ErrSlotEmpty)
	}
	mod, err := decodeModule(sm.SPD, at)
	if err != nil {
		mod = &Module{Image: sm.SPD, InsertedAt: at}
	}
	delete(mods, slot)
	if err := p.save(mods, false); err != nil {
		return nil, fmt.Errorf("remove from %s: %w", slot, err)
	}
	if err := p.coldAssemble(); err != nil {
		p.log.Error("memory subsystem not rebuilt after a cold removal", "slot", slot, "err", err)
	}
	p.mu.Lock()
	p.inserted[i] = time.Time{}
	p.mu.Unlock()
	p.publish(p.clock.Now(), events.ModuleRemoved{Slot: slot, Module: mod.SPD})
	return mod, nil
}
