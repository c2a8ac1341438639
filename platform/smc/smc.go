// Package smc is the system management controller on the simulated board
// (seed items 1 and 9): per slot it owns the attention button and LED, the
// retention latch, the presence pin and the slot power state machine
// (Off -> Isolated -> Ramping -> Nominal). When a latch closes on a seated
// module it reads the SPD, checks it against the running configuration,
// ramps the slot's power and raises the SCI whose GPE handler (_L01) runs the
// firmware. Handling a slot that is not isolated puts noise on the channel's
// shared bus; pulling a powered module is a surprise removal.
//
// Every step is scheduled on an injected clock.Clock; outcomes are published
// as typed events (platform/events) and the SCI goes to a Notifier.
//
// Slot power states: Off means unpowered but still connected to the live
// channel bus (the idle state of an empty slot); Isolated means the slot's
// bus switches are open and VDD is off, so a module can be handled safely;
// Ramping is VDD rising (or the slot being taken down); Nominal is powered
// and connected.
//
// Attention LED: Off idle or safe to handle, Blinking while an operation is
// in progress, On when the slot needs the operator (refused or faulty module,
// surprise removal).
package smc

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/events"
	"github.com/bmcemu/bmcemu/platform/profile"
	"github.com/bmcemu/bmcemu/platform/spd"
)

// Typed errors.
var (
	ErrUnknownSlot  = errors.New("smc: unknown slot")
	ErrSlotOccupied = errors.New("smc: slot is occupied")
	ErrSlotEmpty    = errors.New("smc: slot is empty")
	ErrLatchClosed  = errors.New("smc: latch is closed")
	ErrBusy         = errors.New("smc: slot operation in progress")
	ErrWrongState   = errors.New("smc: slot is not in a state that allows this")
)

// PowerState is a slot's power state.
type PowerState int

// Power states.
const (
	PowerOff PowerState = iota
	PowerIsolated
	PowerRamping
	PowerNominal
)

func (p PowerState) String() string {
	switch p {
	case PowerOff:
		return "Off"
	case PowerIsolated:
		return "Isolated"
	case PowerRamping:
		return "Ramping"
	case PowerNominal:
		return "Nominal"
	}
	return fmt.Sprintf("PowerState(%d)", int(p))
}

// MarshalText implements encoding.TextMarshaler.
func (p PowerState) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// LED is the state of a slot's attention indicator.
type LED int

// LED states.
const (
	LEDOff LED = iota
	LEDBlinking
	LEDOn
)

func (l LED) String() string {
	switch l {
	case LEDOff:
		return "Off"
	case LEDBlinking:
		return "Blinking"
	case LEDOn:
		return "On"
	}
	return fmt.Sprintf("LED(%d)", int(l))
}

// MarshalText implements encoding.TextMarshaler.
func (l LED) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// Op is the hot-plug operation a slot is in.
type Op string

// Operations.
const (
	OpNone        Op = ""
	OpIsolating   Op = "isolating"    // attention pressed, bus switches opening
	OpReady       Op = "ready"        // isolated, waiting for the operator
	OpSPDRead     Op = "spd-read"     // latch closed, reading and checking the SPD
	OpRamping     Op = "ramping"      // VDD rising
	OpFirmware    Op = "firmware"     // SCI raised for an insertion, firmware running
	OpEjecting    Op = "ejecting"     // SCI raised for an eject request, waiting for _EJ0
	OpPoweringOff Op = "powering-off" // slot being isolated and powered down
)

// Cause says why the SMC raised the SCI.
type Cause string

// SCI causes.
const (
	CauseInsert          Cause = "insert"
	CauseEjectRequest    Cause = "eject-request"
	CauseSurpriseRemoval Cause = "surprise-removal"
)

// GPE is the general-purpose event bit the SMC sets: its level handler is
// \_GPE._L01.
const GPE = 1

// SCI is one System Control Interrupt with the slot status bits the GPE
// handler reads.
type SCI struct {
	GPE    int
	Method string // "_L01"
	Slot   Slot
	Cause  Cause
	// Module is the module the SCI concerns (the accepted SPD for an
	// insertion; what was seated for an eject or a surprise removal).
	Module spd.Module
	// SpeedMTs is the speed the module runs at (insertions).
	SpeedMTs int
}

// Notifier receives the SCI. The lead connects it to the firmware's GPE
// handler (firmware.Firmware implements it). It is called without SMC locks
// held and may call back into the Controller.
type Notifier interface {
	RaiseSCI(SCI)
}

// AddressSpace is the firmware's hot-plug reservation as the SMC
// consults it before powering a slot (firmware.Firmware implements it):
// a module the firmware could not map is refused at the SPD check, with
// the slot still unpowered, rather than after training. It is called with
// the SMC's lock held and must not call back into the Controller.
type AddressSpace interface {
	HotplugRoom(slot Slot, bytes uint64) error
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(SCI)

// RaiseSCI implements Notifier.
func (f NotifierFunc) RaiseSCI(s SCI) { f(s) }

// Publisher is where events go; *events.Bus implements it.
type Publisher interface {
	Publish(at time.Time, e events.Event) events.Record
}

// Slot is a slot's place on the board.
type Slot struct {
	Name       string `json:"name"`
	Ordinal    int    `json:"ordinal"`    // 0-based, board order
	Socket     int    `json:"socket"`     // also the NUMA proximity domain
	Controller int    `json:"controller"` // memory controller within the socket
	Channel    int    `json:"channel"`    // channel within the socket, A=0
	Position   int    `json:"position"`   // 1-based slot within the channel
}

// Topology lists the slots of a board in board order, named as platform and
// profile name them.
func Topology(m profile.Memory) []Slot {
	var out []Slot
	chPerSocket := m.ControllersPerSocket * m.ChannelsPerController
	for s := 0; s < m.Sockets; s++ {
		for ch := 0; ch < chPerSocket; ch++ {
			for pos := 1; pos <= m.SlotsPerChannel; pos++ {
				out = append(out, Slot{Name: profile.SlotName(s, ch, pos), Ordinal: len(out), Socket: s,
					Controller: ch / m.ChannelsPerController, Channel: ch, Position: pos})
			}
		}
	}
	return out
}

// Timing are the durations of the SMC's steps in simulated time.
type Timing struct {
	Isolation     time.Duration // bus switches open/close, VDD off
	SPDRead       time.Duration // SMBus read of the SPD EEPROM
	RampSteps     int           // VDD ramp steps
	RampStep      time.Duration // duration of each step
	NoiseRecovery time.Duration // how long bus-noise victims stay disturbed
}

// DefaultTiming: 200 ms isolation, 20 ms SPD read, 1 s ramp in 10 steps,
// 50 ms noise recovery.
func DefaultTiming() Timing {
	return Timing{Isolation: 200 * time.Millisecond, SPDRead: 20 * time.Millisecond,
		RampSteps: 10, RampStep: 100 * time.Millisecond, NoiseRecovery: 50 * time.Millisecond}
}

// Config configures New.
type Config struct {
	Memory profile.Memory
	// Rules default to DefaultRules(Memory) when Rules.Type is empty.
	Rules Rules
	// Timing defaults to DefaultTiming() field by field.
	Timing Timing
	Clock  clock.Clock // required
	// Publisher may be nil (events are dropped).
	Publisher Publisher
	// Notifier may be nil and set later with SetNotifier.
	Notifier Notifier
	// Faults may be nil (no faults; random streams from seed 0).
	Faults *Faults
	// NoiseUEProbability is the chance that bus noise also causes an
	// uncorrectable error on a victim (drawn from the seeded stream).
	NoiseUEProbability float64
	// Boot maps slot names to the SPD images of the modules seated at
	// power-on: those slots start powered, latched and in service.
	Boot map[string][]byte
}

// SlotStatus is a read-only view of one slot.
type SlotStatus struct {
	Slot
	Power      PowerState `json:"power"`
	MilliVolts int        `json:"millivolts"`
	LED        LED        `json:"attention_led"`
	LatchOpen  bool       `json:"latch_open"`
	Present    bool       `json:"present"`
	// Seated numbers the seating of the module present (it changes when
	// a module is seated, never otherwise): a reader may keep what it
	// derived from the module's SPD until it changes.
	Seated uint64 `json:"-"`
	Op     Op     `json:"op,omitempty"`
	// Module is the module's SPD once the SMC accepted it (nil while
	// unread, refused, or after it was powered down for removal).
	Module   *spd.Module `json:"module,omitempty"`
	SpeedMTs int         `json:"speed_mts,omitempty"`
	// Fault is why the LED is On, empty otherwise.
	Fault string `json:"fault,omitempty"`
	// Disturbed is set while bus noise makes the module's banks inaccessible.
	Disturbed bool `json:"disturbed,omitempty"`
}

// Controller is the SMC of one board.
type Controller struct {
	clock  clock.Clock
	pub    Publisher
	faults *Faults
	rules  Rules
	timing Timing
	ueProb float64

	mu       sync.Mutex
	notifier Notifier
	space    AddressSpace
	seats    uint64 // modules seated so far: numbers each seating
	slots    []*slot
	byName   map[string]*slot
}

type slot struct {
	Slot
	power     PowerState
	mv        int
	led       LED
	latchOpen bool
	image     []byte
	seated    uint64 // which seating image is (Controller.seats at the time)
	module    *spd.Module
	speed     int
	op        Op
	fault     string
	disturbed int
	timer     clock.Timer
	epoch     uint64
}

// New builds the SMC of the board described by cfg.Memory.
func New(cfg Config) (*Controller, error) {
	if cfg.Clock == nil {
		return nil, errors.New("smc: Config.Clock is required")
	}
	if cfg.Rules.Type == "" {
		cfg.Rules = DefaultRules(cfg.Memory)
	}
	def := DefaultTiming()
	t := cfg.Timing
	if t.Isolation <= 0 {
		t.Isolation = def.Isolation
	}
	if t.SPDRead <= 0 {
		t.SPDRead = def.SPDRead
	}
	if t.RampSteps <= 0 {
		t.RampSteps = def.RampSteps
	}
	if t.RampStep <= 0 {
		t.RampStep = def.RampStep
	}
	if t.NoiseRecovery <= 0 {
		t.NoiseRecovery = def.NoiseRecovery
	}
	c := &Controller{clock: cfg.Clock, pub: cfg.Publisher, faults: cfg.Faults, rules: cfg.Rules, timing: t,
		ueProb: cfg.NoiseUEProbability, notifier: cfg.Notifier, byName: map[string]*slot{}}
	for _, d := range Topology(cfg.Memory) {
		s := &slot{Slot: d}
		c.slots = append(c.slots, s)
		c.byName[d.Name] = s
	}
	for name, img := range cfg.Boot {
		s, ok := c.byName[name]
		if !ok {
			return nil, fmt.Errorf("%w: boot module in %q", ErrUnknownSlot, name)
		}
		m, err := spd.Decode(img)
		if err != nil {
			return nil, fmt.Errorf("smc: boot module in %s: %w", name, err)
		}
		s.image = slices.Clone(img)
		s.seated = c.nextSeat()
		s.module = &m
		s.speed = min(m.SpeedMTs, c.rules.SpeedMTs)
		if s.speed == 0 {
			s.speed = m.SpeedMTs
		}
		s.power, s.mv = PowerNominal, c.rules.VoltageMV
	}
	return c, nil
}

// SetNotifier connects the SCI to the firmware after both are built.
func (c *Controller) SetNotifier(n Notifier) {
	c.mu.Lock()
	c.notifier = n
	c.mu.Unlock()
}

func (c *Controller) nextSeat() uint64 { c.seats++; return c.seats }

// SetAddressSpace connects the firmware's hot-plug reservation to the SPD
// check after both are built (nil: no check).
func (c *Controller) SetAddressSpace(a AddressSpace) {
	c.mu.Lock()
	c.space = a
	c.mu.Unlock()
}

// Rules returns the running configuration modules are checked against.
func (c *Controller) Rules() Rules { return c.rules }

// effects are what a locked section decided to tell the world; they run
// after the lock is released so callbacks may re-enter the Controller.
type effects []func()

func (c *Controller) emit(fx *effects, e events.Event) {
	*fx = append(*fx, func() {
		if c.pub != nil {
			c.pub.Publish(c.clock.Now(), e)
		}
	})
}

func (c *Controller) run(fx effects) {
	for _, f := range fx {
		f()
	}
}

// locked runs f under the lock, then its effects.
func (c *Controller) locked(name string, f func(s *slot, fx *effects) error) error {
	c.mu.Lock()
	s, ok := c.byName[name]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownSlot, name)
	}
	var fx effects
	err := f(s, &fx)
	c.mu.Unlock()
	c.run(fx)
	return err
}

// after schedules f for slot s; a later schedule or cancel makes it stale.
func (c *Controller) after(s *slot, d time.Duration, f func(s *slot, fx *effects)) {
	c.cancel(s)
	ep := s.epoch
	s.timer = c.clock.AfterFunc(d, func() {
		c.mu.Lock()
		if s.epoch != ep {
			c.mu.Unlock()
			return
		}
		s.timer = nil
		var fx effects
		f(s, &fx)
		c.mu.Unlock()
		c.run(fx)
	})
}

func (c *Controller) cancel(s *slot) {
	s.epoch++
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

func (c *Controller) setLED(s *slot, fx *effects, l LED) {
	if s.led == l {
		return
	}
	s.led = l
	c.emit(fx, events.AttentionIndicatorChanged{Slot: s.Name, State: l.String()})
}

func (c *Controller) setPower(s *slot, fx *effects, p PowerState, mv int) {
	s.mv = mv
	if s.power == p {
		return
	}
	s.power = p
	c.emit(fx, events.SlotPowerChanged{Slot: s.Name, State: p.String(), MilliVolts: mv})
}

func (c *Controller) raise(s *slot, fx *effects, cause Cause, m spd.Module) {
	sci := SCI{GPE: GPE, Method: "_L01", Slot: s.Slot, Cause: cause, Module: m, SpeedMTs: s.speed}
	c.emit(fx, events.SCIRaised{Slot: s.Name, GPE: GPE, Method: "_L01", Cause: string(cause)})
	n := c.notifier
	if n != nil {
		*fx = append(*fx, func() { n.RaiseSCI(sci) })
	}
}

// PressAttention presses the slot's attention button. On an idle empty
// slot it isolates the slot for an insertion; on an isolated empty slot it
// cancels; on a refused module sitting latched in an isolated slot it
// retries the SPD check and power-up; on a module in service it asks the
// firmware to eject it (the SCI carries CauseEjectRequest).
func (c *Controller) PressAttention(name string) error {
	return c.locked(name, func(s *slot, fx *effects) error {
		intent := "ignored"
		// The press is reported before what it caused.
		idx := len(*fx)
		*fx = append(*fx, nil)
		defer func() {
			var one effects
			c.emit(&one, events.AttentionPressed{Slot: s.Name, Intent: intent})
			(*fx)[idx] = one[0]
		}()
		switch s.op {
		case OpNone, OpReady:
		default:
			return fmt.Errorf("%w: %s is %s", ErrBusy, s.Name, s.op)
		}
		switch {
		case s.power == PowerOff:
			intent = "insert"
			c.isolate(s, fx)
		case s.power == PowerIsolated && s.image == nil:
			intent = "cancel"
			c.cancel(s)
			s.op, s.fault = OpNone, ""
			c.setPower(s, fx, PowerOff, 0)
			c.setLED(s, fx, LEDOff)
		case s.power == PowerIsolated && !s.latchOpen:
			intent = "retry"
			c.startSPDRead(s, fx)
		case s.power == PowerIsolated:
			return fmt.Errorf("%w: %s holds a module with its latch open: close the latch", ErrWrongState, s.Name)
		case s.power == PowerNominal && s.module != nil:
			intent = "remove"
			s.op, s.fault = OpEjecting, ""
			c.setLED(s, fx, LEDBlinking)
			c.raise(s, fx, CauseEjectRequest, *s.module)
		default:
			return fmt.Errorf("%w: %s is %s", ErrWrongState, s.Name, s.power)
		}
		return nil
	})
}

// isolate opens the slot's bus switches; when they are open the slot is
// ready, or goes straight on to the SPD read when a module is latched in.
func (c *Controller) isolate(s *slot, fx *effects) {
	s.op, s.fault = OpIsolating, ""
	c.setLED(s, fx, LEDBlinking)
	c.after(s, c.timing.Isolation, func(s *slot, fx *effects) {
		c.setPower(s, fx, PowerIsolated, 0)
		if s.image != nil && !s.latchOpen {
			c.startSPDRead(s, fx)
			return
		}
		s.op = OpReady
		c.setLED(s, fx, LEDOff)
		c.emit(fx, events.SlotReady{Slot: s.Name, For: "installation"})
	})
}

// OpenLatch opens the slot's retention latch.
func (c *Controller) OpenLatch(name string) error {
	return c.locked(name, func(s *slot, fx *effects) error {
		if s.latchOpen {
			return nil
		}
		s.latchOpen = true
		c.emit(fx, events.SlotLatchChanged{Slot: s.Name, Open: true})
		return nil
	})
}

// CloseLatch closes the latch. Closing it on a newly seated module starts
// the SPD read (isolating the slot first if the operator skipped that).
func (c *Controller) CloseLatch(name string) error {
	return c.locked(name, func(s *slot, fx *effects) error {
		if !s.latchOpen {
			return nil
		}
		s.latchOpen = false
		c.emit(fx, events.SlotLatchChanged{Slot: s.Name, Open: false})
		if s.image == nil || s.module != nil {
			return nil
		}
		switch {
		case s.op == OpReady || (s.op == OpNone && s.power == PowerIsolated):
			c.startSPDRead(s, fx)
		case s.op == OpNone && s.power == PowerOff:
			c.isolate(s, fx)
		}
		return nil
	})
}

// Insert seats a module carrying the SPD image img. The latch must be open.
// If the slot is not isolated, the powered modules on the same channel see
// bus noise.
func (c *Controller) Insert(name string, img []byte) error {
	return c.locked(name, func(s *slot, fx *effects) error {
		if s.image != nil {
			return fmt.Errorf("%w: %s", ErrSlotOccupied, s.Name)
		}
		if !s.latchOpen {
			return fmt.Errorf("%w: open the latch of %s first", ErrLatchClosed, s.Name)
		}
		if len(img) == 0 {
			return fmt.Errorf("smc: insert into %s: empty SPD image", s.Name)
		}
		isolated := s.power == PowerIsolated
		s.image = slices.Clone(img)
		s.seated = c.nextSeat()
		s.fault = ""
		c.emit(fx, events.SlotPresenceChanged{Slot: s.Name, Present: true, Isolated: isolated})
		if !isolated {
			c.busNoise(s, fx)
		}
		return nil
	})
}

// Remove pulls the module out. The latch must be open. Pulling from an
// isolated slot is the safe path and returns the slot to idle; pulling a
// powered module is a surprise removal.
func (c *Controller) Remove(name string) ([]byte, error) {
	var img []byte
	err := c.locked(name, func(s *slot, fx *effects) error {
		if s.image == nil {
			return fmt.Errorf("%w: %s", ErrSlotEmpty, s.Name)
		}
		if !s.latchOpen {
			return fmt.Errorf("%w: open the latch of %s first", ErrLatchClosed, s.Name)
		}
		img = s.image
		mod := s.module
		powered := s.power == PowerRamping || s.power == PowerNominal
		isolated := s.power == PowerIsolated
		prev := s.power
		c.cancel(s)
		s.image, s.module, s.speed = nil, nil, 0
		c.emit(fx, events.SlotPresenceChanged{Slot: s.Name, Present: false, Isolated: isolated})
		if !isolated {
			c.busNoise(s, fx)
		}
		if powered {
			s.op, s.fault = OpNone, "surprise removal"
			c.emit(fx, events.SurpriseRemoval{Slot: s.Name, PowerState: prev.String()})
			c.setPower(s, fx, PowerOff, 0)
			c.setLED(s, fx, LEDOn)
			var m spd.Module
			if mod != nil {
				m = *mod
			}
			c.raise(s, fx, CauseSurpriseRemoval, m)
			return nil
		}
		s.op, s.fault = OpNone, ""
		c.setPower(s, fx, PowerOff, 0)
		c.setLED(s, fx, LEDOff)
		return nil
	})
	return img, err
}

// startSPDRead reads the SPD over SMBus after the read delay and checks it.
func (c *Controller) startSPDRead(s *slot, fx *effects) {
	s.op, s.fault = OpSPDRead, ""
	c.setLED(s, fx, LEDBlinking)
	c.after(s, c.timing.SPDRead, func(s *slot, fx *effects) {
		m, speed, err := c.readAndCheck(s)
		if err != nil {
			var ce *CheckError
			if !errors.As(err, &ce) {
				ce = &CheckError{ReasonUnsupported, err.Error()}
			}
			s.op, s.fault = OpNone, string(ce.Reason)+": "+ce.Detail
			c.emit(fx, events.SPDCheckFailed{Slot: s.Name, Reason: string(ce.Reason), Detail: ce.Detail})
			c.setLED(s, fx, LEDOn)
			return
		}
		s.module, s.speed = &m, speed
		c.emit(fx, events.SPDAccepted{Slot: s.Name, Module: m, OperatingSpeedMTs: speed})
		c.ramp(s, fx, 1)
	})
}

// readAndCheck applies the SPD-stage faults to what the SMBus returns.
func (c *Controller) readAndCheck(s *slot) (spd.Module, int, error) {
	img := s.image
	if c.faults.Armed(s.Name, FaultSPDCRC) {
		img = slices.Clone(img)
		r := c.faults.Rand(s.Name, "spd-crc")
		limit := 510
		if len(img) < spd.DDR5Size {
			limit = 126
		}
		limit = min(limit, len(img))
		if limit > 3 {
			img[3+r.IntN(limit-3)] ^= 1 << r.IntN(8)
		}
	}
	m, err := spd.Decode(img)
	if err != nil {
		return m, 0, DecodeError(err)
	}
	if c.faults.Armed(s.Name, FaultVoltageMismatch) {
		if m.VoltageMV == 1100 {
			m.VoltageMV = 1200
		} else {
			m.VoltageMV = 1100
		}
	}
	if c.faults.Armed(s.Name, FaultSpeedMismatch) {
		m.SpeedMTs = slowerGrade(c.rules.SpeedMTs)
	}
	var channel []spd.Module
	for _, o := range c.slots {
		if o != s && o.Socket == s.Socket && o.Channel == s.Channel && o.module != nil {
			channel = append(channel, *o.module)
		}
	}
	speed, err := c.rules.Check(m, channel)
	if err == nil && c.space != nil {
		if rerr := c.space.HotplugRoom(s.Slot, m.CapacityMiB<<20); rerr != nil {
			return m, 0, &CheckError{ReasonReservation, rerr.Error()}
		}
	}
	return m, speed, err
}

func slowerGrade(speed int) int {
	grades := []int{1600, 1866, 2133, 2400, 2666, 2933, 3200, 3600, 4000, 4400, 4800, 5200, 5600, 6000, 6400, 6800, 7200, 7600, 8000, 8400, 8800}
	best := 1600
	for _, g := range grades {
		if g < speed {
			best = g
		}
	}
	return best
}

// ramp raises VDD in steps; at nominal it raises the SCI for the firmware.
func (c *Controller) ramp(s *slot, fx *effects, step int) {
	s.op = OpRamping
	n := c.timing.RampSteps
	c.setPower(s, fx, PowerRamping, s.mv)
	c.after(s, c.timing.RampStep, func(s *slot, fx *effects) {
		if step < n {
			s.mv = c.rules.VoltageMV * step / n
			c.ramp(s, fx, step+1)
			return
		}
		c.setPower(s, fx, PowerNominal, c.rules.VoltageMV)
		s.op = OpFirmware
		c.raise(s, fx, CauseInsert, *s.module)
	})
}

// busNoise disturbs the powered modules sharing s's channel.
func (c *Controller) busNoise(s *slot, fx *effects) {
	var victims []*slot
	for _, o := range c.slots {
		if o != s && o.Socket == s.Socket && o.Channel == s.Channel && o.power == PowerNominal && o.image != nil {
			victims = append(victims, o)
		}
	}
	if len(victims) == 0 {
		return
	}
	r := c.faults.Rand(s.Name, "bus-noise")
	forceUE := c.faults.Armed(s.Name, FaultBusNoiseUE)
	ev := events.BusNoise{Socket: s.Socket, Channel: s.Channel, Slot: s.Name}
	names := make([]string, 0, len(victims))
	for _, v := range victims {
		hit := events.NoiseHit{Slot: v.Name, Correctable: 1 + r.IntN(8)}
		if forceUE || (c.ueProb > 0 && r.Float64() < c.ueProb) {
			hit.Uncorrectable = 1
		}
		v.disturbed++
		ev.Victims = append(ev.Victims, hit)
		names = append(names, v.Name)
	}
	c.emit(fx, ev)
	c.clock.AfterFunc(c.timing.NoiseRecovery, func() {
		c.mu.Lock()
		for _, v := range victims {
			v.disturbed--
		}
		var fx effects
		c.emit(&fx, events.BusNoiseRecovered{Socket: s.Socket, Channel: s.Channel, Slot: s.Name, Victims: names})
		c.mu.Unlock()
		c.run(fx)
	})
}

// HotAddDone is the firmware's report that the OS took the new memory: the
// slot leaves the hot-plug operation and the LED goes off.
func (c *Controller) HotAddDone(name string) error {
	return c.locked(name, func(s *slot, fx *effects) error {
		if s.op != OpFirmware {
			return fmt.Errorf("%w: %s is not waiting for firmware (%q)", ErrWrongState, s.Name, s.op)
		}
		s.op = OpNone
		c.setLED(s, fx, LEDOff)
		return nil
	})
}

// HotAddFailed is the firmware's report that the module cannot be used
// (FW_FAULT, pattern test, refused by the OS): the SMC powers the slot down
// and isolates it, and lights the LED so the operator pulls the module.
func (c *Controller) HotAddFailed(name, reason string) error {
	return c.locked(name, func(s *slot, fx *effects) error {
		if s.op != OpFirmware {
			return fmt.Errorf("%w: %s is not waiting for firmware (%q)", ErrWrongState, s.Name, s.op)
		}
		s.fault = reason
		c.setLED(s, fx, LEDOn)
		c.powerDown(s, fx, LEDOn)
		return nil
	})
}

// PowerOff is the firmware's _EJ0: the SMC isolates the slot and turns its
// power off, then the LED goes off and the module is safe to pull.
func (c *Controller) PowerOff(name string) error {
	return c.locked(name, func(s *slot, fx *effects) error {
		if s.power != PowerNominal || (s.op != OpEjecting && s.op != OpNone) {
			return fmt.Errorf("%w: %s is %s (%q)", ErrWrongState, s.Name, s.power, s.op)
		}
		c.setLED(s, fx, LEDBlinking)
		c.powerDown(s, fx, LEDOff)
		return nil
	})
}

func (c *Controller) powerDown(s *slot, fx *effects, final LED) {
	s.op = OpPoweringOff
	c.setPower(s, fx, PowerRamping, s.mv)
	c.after(s, c.timing.Isolation, func(s *slot, fx *effects) {
		s.op, s.module, s.speed = OpNone, nil, 0
		c.setPower(s, fx, PowerIsolated, 0)
		c.setLED(s, fx, final)
		c.emit(fx, events.SlotReady{Slot: s.Name, For: "removal"})
	})
}

// EjectRefused is the firmware's report that an eject request ended without
// _EJ0 (boot memory, OS refused): the module stays in service.
func (c *Controller) EjectRefused(name, reason string) error {
	return c.locked(name, func(s *slot, fx *effects) error {
		if s.op != OpEjecting {
			return fmt.Errorf("%w: %s has no eject request pending (%q)", ErrWrongState, s.Name, s.op)
		}
		s.op = OpNone
		c.setLED(s, fx, LEDOff)
		return nil
	})
}

// Status returns one slot's state.
func (c *Controller) Status(name string) (SlotStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.byName[name]
	if !ok {
		return SlotStatus{}, fmt.Errorf("%w: %q", ErrUnknownSlot, name)
	}
	return s.status(), nil
}

// Slots returns every slot's state in board order.
func (c *Controller) Slots() []SlotStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]SlotStatus, len(c.slots))
	for i, s := range c.slots {
		out[i] = s.status()
	}
	return out
}

func (s *slot) status() SlotStatus {
	st := SlotStatus{Slot: s.Slot, Power: s.power, MilliVolts: s.mv, LED: s.led, LatchOpen: s.latchOpen,
		Present: s.image != nil, Seated: s.seated, Op: s.op, SpeedMTs: s.speed, Fault: s.fault, Disturbed: s.disturbed > 0}
	if s.module != nil {
		m := *s.module
		st.Module = &m
	}
	return st
}

// Image returns the SPD image of the module seated in slot (nil when empty).
func (c *Controller) Image(name string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSlot, name)
	}
	return slices.Clone(s.image), nil
}
