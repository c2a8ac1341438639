package platform

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/firmware"
	"github.com/bmcemu/bmcemu/platform/ras"
	"github.com/bmcemu/bmcemu/platform/ras/ecc"
	"github.com/bmcemu/bmcemu/platform/ras/pages"
	"github.com/bmcemu/bmcemu/platform/smc"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// RAS errors.
var (
	// ErrRAS: the RAS engine refused (unknown rank, a copy running...).
	ErrRAS = errors.New("RAS operation refused")
)

// Copy pacing: the memory controller copies rasStepBytes of the extent
// every rasStepInterval of simulated time (2 GiB/s: a 32 GiB mirror side
// re-silvers in 16 s).
const (
	rasStepBytes    = 200 << 20
	rasStepInterval = 100 * time.Millisecond
)

// rasUnit is the platform's side of the RAS engine: the lock that
// serialises it, the clock ticks that pace copies, and the workload state.
// Lock order: firmware lock -> rasUnit.mu (the firmware consults the
// engine under its lock); the platform never calls the firmware or
// publishes while holding mu.
type rasUnit struct {
	p     *Platform
	l     *layers // the boot this engine was planned for
	mu    sync.Mutex
	sys   *ras.System
	boot  time.Time
	tick  bool // a Step is scheduled
	rated bool // an error-rate tick is scheduled
	work  *ras.WorkloadStatus
	lastV *ras.VerifyStatus
}

// newRAS plans the requested mode for the boot population.
func (p *Platform) newRAS(l *layers, boot map[string]SavedModule, setting string, seed uint64) (*rasUnit, error) {
	var mods []ras.Module
	controllers := p.prof.Memory.Sockets * p.prof.Memory.ControllersPerSocket
	for _, s := range p.slots {
		sm, ok := boot[s.Name]
		if !ok {
			continue
		}
		m, err := spd.Decode(sm.SPD)
		if err != nil {
			return nil, fmt.Errorf("slot %s: %w", s.Name, err)
		}
		cart := -1
		if controllers == 5 {
			cart = s.Socket*p.prof.Memory.ControllersPerSocket + s.Controller
		}
		mods = append(mods, ras.Module{Slot: s.Name, Socket: s.Socket, Channel: s.Channel, Position: s.Position,
			Capacity: m.CapacityMiB << 20, Ranks: m.Ranks, Cartridge: cart})
	}
	mode := ras.Mode(p.prof.RAS.Mode)
	if setting != "" {
		mode = ras.Mode(setting)
	}
	if mode == "" {
		mode = ras.AdvancedECC
	}
	plan := ras.NewPlanConfig(mode, mods, ras.PlanConfig{MirroredChannelPairs: p.prof.RAS.MirroredChannelPairs})
	cfg := ecc.DefaultConfig
	if p.prof.RAS.CEThreshold > 0 {
		cfg.Threshold = p.prof.RAS.CEThreshold
	}
	if p.prof.RAS.CELogLimit > 0 {
		cfg.LogLimit = p.prof.RAS.CELogLimit
	}
	u := &rasUnit{p: p, l: l, boot: p.clock.Now()}
	sys, err := ras.NewSystem(plan, mods, u.geometry, cfg, seed)
	if err != nil {
		return nil, err
	}
	u.sys = sys
	if plan.ConfigError != "" {
		p.log.Warn("memory RAS mode not applied", "requested", plan.Requested, "mode", plan.Mode, "reason", plan.ConfigError)
	}
	return u, nil
}

// geometry answers for any module in service (called with mu held).
func (u *rasUnit) geometry(slot string) (ras.ModuleGeometry, bool) {
	img, err := u.l.smc.Image(slot)
	if err != nil || img == nil {
		return ras.ModuleGeometry{}, false
	}
	m, err := spd.Decode(img)
	if err != nil {
		return ras.ModuleGeometry{}, false
	}
	return ras.ModuleGeometry{Capacity: m.CapacityMiB << 20, Ranks: m.Ranks}, true
}

// since is simulated time since boot, the ECC model's clock.
func (u *rasUnit) since() time.Duration { return u.p.clock.Now().Sub(u.boot) }

// firmware.Redundancy, called under the firmware's lock.

func (u *rasUnit) Decoded(slot smc.Slot, capacity uint64) uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sys.Decoded(slot.Name, capacity)
}

func (u *rasUnit) Insert(slot smc.Slot, m spd.Module) (firmware.InsertAction, []events.Event, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	act, err := u.sys.Insert(ras.Module{Slot: slot.Name, Socket: slot.Socket, Channel: slot.Channel, Position: slot.Position,
		Capacity: m.CapacityMiB << 20, Ranks: m.Ranks, Cartridge: -1})
	u.scheduleLocked()
	return act, u.sys.Take(), err
}

func (u *rasUnit) Release(slot smc.Slot, surprise bool) (bool, []events.Event, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	ok, reason := u.sys.Release(slot.Name, surprise)
	u.scheduleLocked()
	return ok, u.sys.Take(), reason
}

// Reliable: see firmware.Redundancy.
func (u *rasUnit) Reliable(slot smc.Slot) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sys.Reliable(slot.Name)
}

// GrowthReserve holds back as much address space as a RAID5 array gives
// at boot, so it can double (every cartridge upgraded) without a reboot.
func (u *rasUnit) GrowthReserve(socket int) uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sys.GrowthReserve(socket)
}

// scheduleLocked arms the copy tick when a copy runs.
func (u *rasUnit) scheduleLocked() {
	if u.tick || !u.sys.Busy() {
		return
	}
	u.tick = true
	u.l.clk.AfterFunc(rasStepInterval, u.step)
}

func (u *rasUnit) step() {
	u.mu.Lock()
	u.tick = false
	u.sys.Step(rasStepBytes)
	evs := u.sys.Take()
	exts := u.sys.TakeExtensions()
	u.scheduleLocked()
	u.mu.Unlock()
	u.p.publishAll(evs)
	u.extend(exts)
}

// extend has the firmware decode capacity the RAID5 array gained (every
// cartridge upgraded) through the data modules, and hand it to the OS.
func (u *rasUnit) extend(exts []ras.Extension) {
	for _, x := range exts {
		if err := u.l.fw.Extend(x.Slot, x.Bytes); err != nil {
			u.p.log.Warn("RAID5 extension not mapped; it is mapped at the next boot", "slot", x.Slot, "err", err)
			continue
		}
		u.mu.Lock()
		u.sys.Extended(x)
		u.mu.Unlock()
	}
	if len(exts) > 0 {
		u.p.refresh()
	}
}

// publishAll publishes engine events in order (no lock held).
func (p *Platform) publishAll(evs []events.Event) {
	for _, e := range evs {
		p.publish(p.clock.Now(), e)
	}
}

// syncTAD hands the engine the decoder table after the firmware changed it.
func (u *rasUnit) syncTAD(t *firmware.TAD) {
	u.mu.Lock()
	u.sys.SetTAD(t)
	u.mu.Unlock()
}

// RASStatus is the memory protection state of the server.
type RASStatus struct {
	// Requested is the mode the firmware setting asks for; Mode the one in
	// effect (AdvancedECC when the population does not support the
	// request: ConfigError says why).
	Requested   string `json:"requested"`
	Mode        string `json:"mode"`
	ConfigError string `json:"config_error,omitempty"`
	// NextBoot is the firmware setting saved for the next boot when it was
	// changed (SetRASMode); empty: the profile's mode.
	NextBoot string `json:"next_boot,omitempty"`
	// RawBytes is the installed capacity at boot; UsableBytes what the OS
	// was given (net of mirror copies, spare ranks and parity).
	RawBytes    uint64 `json:"raw_bytes"`
	UsableBytes uint64 `json:"usable_bytes"`
	// Redundancy is the worst set's state (events.FullyRedundant ...),
	// empty in AdvancedECC.
	Redundancy string          `json:"redundancy,omitempty"`
	Sets       []ras.SetStatus `json:"sets,omitempty"`
	// Job is the running copy (spare copy, re-silver, rebuild).
	Job      *ras.Job            `json:"job,omitempty"`
	Workload *ras.WorkloadStatus `json:"workload,omitempty"`
	Verify   *ras.VerifyStatus   `json:"verify,omitempty"`
}

// status reads the engine for a snapshot (mu not held by the caller).
func (u *rasUnit) status(slots []Slot) RASStatus {
	u.mu.Lock()
	defer u.mu.Unlock()
	plan := u.sys.Plan()
	u.p.mu.Lock()
	pending := u.p.rasMode
	u.p.mu.Unlock()
	st := RASStatus{Requested: string(plan.Requested), Mode: string(plan.Mode), ConfigError: plan.ConfigError, NextBoot: pending,
		RawBytes: plan.Raw, UsableBytes: plan.Usable, Redundancy: u.sys.Overall(), Sets: u.sys.Sets(), Job: u.sys.Job(),
		Workload: u.work, Verify: u.lastV}
	for i := range slots {
		if slots[i].Module == nil {
			continue
		}
		if ms, ok := u.sys.Module(slots[i].Name); ok {
			slots[i].RAS = &ms
		}
	}
	return st
}

// SetRASMode changes the firmware's memory protection setting. Like a
// BIOS setting it is saved at once and takes effect at the next boot (the
// host's next POST, or a restart of the emulator); the running mode is
// unchanged. An empty mode returns to the profile's.
func (p *Platform) SetRASMode(mode string) error {
	switch ras.Mode(mode) {
	case "", ras.AdvancedECC, ras.RankSparing, ras.Mirroring, ras.RAID5, ras.AddressRangeMirror:
	default:
		return fmt.Errorf("set RAS mode %q: %w: want AdvancedECC, RankSparing, Mirroring, AddressRangeMirror or RAID5", mode, ErrRAS)
	}
	p.opMu.Lock()
	defer p.opMu.Unlock()
	p.mu.Lock()
	prev := p.rasMode
	p.rasMode = mode
	mods := maps(p.saved)
	power := p.powerOn
	p.mu.Unlock()
	if err := p.save(mods, power); err != nil {
		p.mu.Lock()
		p.rasMode = prev
		p.mu.Unlock()
		return fmt.Errorf("set RAS mode: %w", err)
	}
	next := mode
	if next == "" {
		next = p.prof.RAS.Mode
	}
	if next == "" {
		next = string(ras.AdvancedECC)
	}
	p.publish(p.clock.Now(), events.RASModePending{Mode: next})
	return nil
}

// countNoise adds the errors bus noise caused on its victims to their
// modules' counters, so every error the memory controller saw is counted
// in one place (the BusNoise event itself is the record).
func (u *rasUnit) countNoise(hits []events.NoiseHit) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, h := range hits {
		u.sys.CountErrors(h.Slot, uint64(max(h.Correctable, 0)), uint64(max(h.Uncorrectable, 0)))
	}
}

// lifetimes reads the lifetime counters of the given modules for saving.
func (u *rasUnit) lifetimes(slots []string) map[string]ecc.Counters {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sys.Lifetimes(slots)
}

// restoreLifetimes seeds the saved counters of the modules still seated.
func (u *rasUnit) restoreLifetimes(saved map[string]ecc.Counters, boot map[string]SavedModule) {
	keep := map[string]ecc.Counters{}
	for slot, c := range saved {
		if _, ok := boot[slot]; ok {
			keep[slot] = c
		}
	}
	u.mu.Lock()
	u.sys.RestoreLifetimes(keep)
	u.mu.Unlock()
}

// forget drops a pulled module's error counters.
// ejected tells the engine the OS ejected a hot-added module's range.
func (u *rasUnit) ejected(slot string) {
	u.mu.Lock()
	u.sys.Ejected(slot)
	evs := u.sys.Take()
	u.mu.Unlock()
	u.p.publishAll(evs)
}

func (u *rasUnit) forget(slot string) {
	u.mu.Lock()
	u.sys.ForgetModule(slot)
	u.mu.Unlock()
}

// RAS returns the memory protection state (also in every Snapshot).
func (p *Platform) RAS() RASStatus { return p.Snapshot().RAS }

// InjectMemoryError records an ECC error on slot's rank, as the memory
// controller would report it, and lets the RAS mode react.
func (p *Platform) InjectMemoryError(slot string, rank int, correctable bool) error {
	return p.InjectMemoryErrorAt(slot, rank, nil, correctable)
}

// InjectMemoryErrorAt is InjectMemoryError at a module-relative address
// of the rank (nil: the first page the workload wrote there).
func (p *Platform) InjectMemoryErrorAt(slot string, rank int, addr *uint64, correctable bool) error {
	if _, err := p.slotIndex("inject into", slot); err != nil {
		return err
	}
	if err := p.needOS("inject into " + slot); err != nil {
		return err
	}
	k := ecc.Uncorrectable
	if correctable {
		k = ecc.Correctable
	}
	u := p.l().ras
	u.mu.Lock()
	err := u.sys.InjectAt(u.since(), slot, rank, addr, k)
	evs := u.sys.Take()
	u.scheduleLocked()
	u.mu.Unlock()
	p.publishAll(evs)
	if err != nil {
		return fmt.Errorf("inject into %s: %w: %w", slot, ErrRAS, err)
	}
	if len(evs) == 0 {
		p.refresh() // counters moved even when logging is suppressed
	}
	return p.saveCounters()
}

// saveCounters writes the inventory so the lifetime ECC counters the BMC
// reports survive a restart.
func (p *Platform) saveCounters() error {
	p.opMu.Lock()
	defer p.opMu.Unlock()
	p.mu.Lock()
	mods := maps(p.saved)
	power := p.powerOn
	changed := p.changed
	p.mu.Unlock()
	if p.store == nil {
		return nil
	}
	if err := p.store.SaveInventory(p.inventory(mods, power, changed)); err != nil {
		return fmt.Errorf("save ECC counters: %w: %w", ErrPersist, err)
	}
	return nil
}

// rateInterval is how often rated errors are delivered.
const rateInterval = time.Second

// SetMemoryErrorRate makes a module's rank produce ECC errors at random
// addresses at the given rates (errors per simulated second; zero stops
// them), as a failing part does: a CE storm trips the threshold and, in
// RankSparing, starts a spare copy. Rates are volatile, like the fault
// panel.
func (p *Platform) SetMemoryErrorRate(slot string, rank int, cePerSec, uePerSec float64) error {
	if _, err := p.slotIndex("set the error rate of", slot); err != nil {
		return err
	}
	if err := p.needOS("set the error rate of " + slot); err != nil {
		return err
	}
	u := p.l().ras
	u.mu.Lock()
	err := u.sys.SetRate(u.since(), slot, rank, cePerSec, uePerSec)
	evs := u.sys.Take()
	u.scheduleRateLocked()
	u.mu.Unlock()
	p.publishAll(evs)
	if err != nil {
		return fmt.Errorf("error rate of %s: %w: %w", slot, ErrRAS, err)
	}
	p.refresh()
	return nil
}

func (u *rasUnit) scheduleRateLocked() {
	if u.rated || !u.sys.Rated() {
		return
	}
	u.rated = true
	u.l.clk.AfterFunc(rateInterval, u.rateTick)
}

func (u *rasUnit) rateTick() {
	u.mu.Lock()
	u.rated = false
	u.sys.Advance(u.since())
	evs := u.sys.Take()
	u.scheduleRateLocked()
	u.scheduleLocked()
	u.mu.Unlock()
	u.p.publishAll(evs)
	if len(evs) == 0 {
		u.p.refresh() // counters moved even when logging is suppressed
	}
	if err := u.p.saveCounters(); err != nil {
		u.p.log.Error("ECC counters not saved", "err", err)
	}
}

// FailModule makes a seated module die in place (a module or RAID
// cartridge failure, not a removal): redundancy carries on without it
// where the mode has some, otherwise the data it held is reported lost.
// Replace it through the attention button as usual.
func (p *Platform) FailModule(slot string) error {
	if _, err := p.slotIndex("fail", slot); err != nil {
		return err
	}
	if err := p.needOS("fail " + slot); err != nil {
		return err
	}
	u := p.l().ras
	u.mu.Lock()
	err := u.sys.FailModule(slot)
	evs := u.sys.Take()
	u.mu.Unlock()
	p.publishAll(evs)
	if err != nil {
		return fmt.Errorf("fail %s: %w: %w", slot, ErrRAS, err)
	}
	p.refresh()
	return nil
}

// ClearMemoryErrorCounts starts a new counting period for a module
// (Redfish MemoryMetrics.ClearCurrentPeriod); it re-enables CE logging.
func (p *Platform) ClearMemoryErrorCounts(slot string) error {
	if _, err := p.slotIndex("clear counters of", slot); err != nil {
		return err
	}
	p.l().ras.mu.Lock()
	p.l().ras.sys.ClearCurrentPeriod(slot)
	p.l().ras.mu.Unlock()
	p.refresh()
	return nil
}

// RunWorkload writes the deterministic pattern seed over the OS's memory:
// pages pages spread evenly over every usable range (so every module,
// rank and redundant set holds some).
func (p *Platform) RunWorkload(seed uint64, npages int) (ras.WorkloadStatus, error) {
	if err := p.needOS("workload"); err != nil {
		return ras.WorkloadStatus{}, err
	}
	if npages <= 0 {
		npages = 16384
	}
	w := p.workload(seed, npages)
	u := p.l().ras
	u.mu.Lock()
	n, err := w.Run(u.sys)
	st := ras.WorkloadStatus{Seed: seed, Pages: n, Ranges: w.Ranges, Stride: w.Stride}
	if err == nil {
		u.work = &st
	}
	evs := u.sys.Take()
	u.mu.Unlock()
	p.publishAll(evs)
	p.refresh()
	if err != nil {
		return st, fmt.Errorf("workload: %w", err)
	}
	return st, nil
}

// VerifyWorkload reads back every page the last workload wrote and
// compares it byte for byte.
func (p *Platform) VerifyWorkload() (ras.VerifyStatus, error) {
	if err := p.needOS("verify"); err != nil {
		return ras.VerifyStatus{}, err
	}
	u := p.l().ras
	u.mu.Lock()
	if u.work == nil {
		u.mu.Unlock()
		return ras.VerifyStatus{}, fmt.Errorf("verify: %w: no workload has run", ErrRAS)
	}
	w := pages.Workload{Pattern: pages.Pattern{Seed: u.work.Seed}, Ranges: u.work.Ranges, Stride: u.work.Stride}
	vs := ras.Verify(w, u.sys)
	u.lastV = &vs
	evs := u.sys.Take()
	u.mu.Unlock()
	p.publishAll(evs)
	p.refresh()
	return vs, nil
}

// workload spreads npages over the usable boot ranges and hot-added
// modules' ranges. Boot memory striped over a surprise-removed module's
// ways is left out: part of every stripe reaches no module until reboot.
func (p *Platform) workload(seed uint64, npages int) pages.Workload {
	var rs []pages.Range
	var total uint64
	var lost []firmware.Range
	for _, r := range p.l().fw.TAD().Rules {
		if len(r.Lost) > 0 {
			lost = append(lost, r.Range)
		}
	}
	for _, b := range p.l().fw.Layout().Boot {
		for _, r := range b {
			for _, u := range subtract(r, lost) {
				rs = append(rs, pages.Range{Base: u.Base, Length: u.Length})
				total += u.Length
			}
		}
	}
	for _, d := range p.l().fw.Devices() {
		if r, ok := d.Range(); ok {
			rs = append(rs, pages.Range{Base: r.Base, Length: r.Length})
			total += r.Length
		}
	}
	stride := max(total/pages.PageSize/uint64(npages), 1)
	// An odd stride walks every channel of a 4 KiB interleave and every
	// cartridge of a RAID5 stripe instead of landing on the same one.
	if stride > 1 && stride%2 == 0 {
		stride--
	}
	return pages.Workload{Pattern: pages.Pattern{Seed: seed}, Ranges: rs, Stride: stride}
}

// subtract returns the parts of r outside every range of minus (sorted,
// disjoint, as TAD rules are).
func subtract(r firmware.Range, minus []firmware.Range) []firmware.Range {
	var out []firmware.Range
	cur := r.Base
	for _, m := range minus {
		if m.End() <= cur || m.Base >= r.End() {
			continue
		}
		if m.Base > cur {
			out = append(out, firmware.Range{Base: cur, Length: m.Base - cur})
		}
		cur = m.End()
	}
	if cur < r.End() {
		out = append(out, firmware.Range{Base: cur, Length: r.End() - cur})
	}
	return out
}
