package ipmi

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/sel"
)

// Management controller, channel and LAN commands this package answers
// itself: Get Channel Info/Access, the LAN configuration parameters, BMC
// Global Enables, the watchdog and DCMI power.

// lanInfo is what the LAN channel reports about itself: the listen address
// (IP and port) and a MAC derived from the system serial number.
type lanInfo struct {
	ip   [4]byte
	port uint16
	mac  [6]byte
}

func newLANInfo(addr *net.UDPAddr, snap *platform.Snapshot) lanInfo {
	var l lanInfo
	if addr != nil {
		if ip4 := addr.IP.To4(); ip4 != nil {
			copy(l.ip[:], ip4)
		}
		l.port = uint16(addr.Port)
	}
	// The platform derives it, so Redfish's Manager EthernetInterface
	// shows the same address.
	copy(l.mac[:], platform.BMCMAC(snap.System.SerialNumber))
	return l
}

func (l lanInfo) netmask() [4]byte {
	if l.ip[0] == 127 {
		return [4]byte{255, 0, 0, 0}
	}
	return [4]byte{255, 255, 255, 0}
}

// currentChannel is the channel number meaning "the one this request came on".
const currentChannel = 0x0E

func channelArg(b byte) (uint8, bool) {
	ch := b & 0x0F
	return lanChannel, ch == lanChannel || ch == currentChannel
}

// handleGetChannelInfo (App 42h, Table 22-29). Only the LAN channel exists;
// any other number is "not present" (CCh), which is how clients that walk
// channels 0..F learn where to stop reading.
func handleGetChannelInfo() handlers.HandlerFunc {
	return func(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 1 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		ch, ok := channelArg(req[0])
		if !ok {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		active := 0
		if hctx != nil && hctx.BMC != nil {
			active = hctx.BMC.Sessions.Count()
		}
		// medium 802.3 LAN, protocol IPMB-1.0, multi-session, IPMI IANA.
		return []byte{ch, 0x04, 0x01, 0x80 | byte(min(active, 0x3F)), 0xF2, 0x1B, 0x00, 0x00, 0x00}, types.CodeOK, nil
	}
}

// handleGetChannelAccess (App 41h, Table 22-28): always available,
// per-message and user-level authentication on, PEF alerting on,
// Administrator limit. Volatile and non-volatile settings are the same.
func handleGetChannelAccess() handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 2 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		if _, ok := channelArg(req[0]); !ok {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		switch req[1] & 0xC0 {
		case 0x40, 0x80:
		default:
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		return []byte{0x02, byte(bmc.PrivilegeLevelAdministrator)}, types.CodeOK, nil
	}
}

// LAN configuration parameters (v2.0 Table 23-4) beyond the alerting ones.
const (
	lanParamRevision    = 0x11
	codeParamReadOnly   = 0x82 // Set LAN Config: attempt to write a read-only parameter
	lanSetInProgress    = 0
	lanAuthSupport      = 1
	lanAuthEnables      = 2
	lanIP               = 3
	lanIPSource         = 4
	lanMAC              = 5
	lanNetmask          = 6
	lanIPv4Header       = 7
	lanPrimaryRMCPPort  = 8
	lanARPControl       = 10
	lanARPInterval      = 11
	lanGatewayIP        = 12
	lanGatewayMAC       = 13
	lanBackupGatewayIP  = 14
	lanBackupGatewayMAC = 15
	lanVLANID           = 20
	lanVLANPriority     = 21
	lanCipherCount      = 22
	lanCipherSuites     = 23
	lanCipherPrivileges = 24
)

// lanParam is the data of one read-only LAN parameter, false if unknown.
func (l lanInfo) param(p byte) ([]byte, bool) {
	switch p {
	case lanSetInProgress:
		return []byte{0x00}, true
	case lanAuthSupport:
		return []byte{0x00}, true // no IPMI v1.5 authentication types: RMCP+ only
	case lanAuthEnables:
		return make([]byte, 5), true
	case lanIP:
		return l.ip[:], true
	case lanIPSource:
		return []byte{0x01}, true // static
	case lanMAC:
		return l.mac[:], true
	case lanNetmask:
		m := l.netmask()
		return m[:], true
	case lanIPv4Header:
		return []byte{0x40, 0x40, 0x10}, true
	case lanPrimaryRMCPPort:
		return binary.LittleEndian.AppendUint16(nil, l.port), true
	case lanARPControl, lanARPInterval, lanVLANPriority:
		return []byte{0x00}, true
	case lanGatewayIP, lanBackupGatewayIP:
		return make([]byte, 4), true
	case lanGatewayMAC, lanBackupGatewayMAC:
		return make([]byte, 6), true
	case lanVLANID:
		return []byte{0x00, 0x00}, true
	case lanCipherCount:
		return []byte{byte(len(cipherSuites))}, true
	case lanCipherSuites:
		out := []byte{0x00}
		for _, c := range cipherSuites {
			out = append(out, byte(c))
		}
		return out, true
	case lanCipherPrivileges:
		// Reserved byte, then one nibble per suite entry: Administrator.
		return []byte{0x00, 0x44, 0, 0, 0, 0, 0, 0, 0}, true
	}
	return nil, false
}

// handleGetLANConfigParams (Transport 02h, Table 23-3): the alerting
// parameters come from PEF, the rest from the listen address.
func handleGetLANConfigParams(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 4 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		if _, ok := channelArg(req[0]); !ok {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		if req[0]&0x80 != 0 { // parameter revision only
			return []byte{lanParamRevision}, types.CodeOK, nil
		}
		if data, cc, ok := m.pef.lanAlertParam(req[1], req[2]); ok {
			if cc != types.CodeOK {
				return nil, cc, nil
			}
			return append([]byte{lanParamRevision}, data...), types.CodeOK, nil
		}
		data, ok := m.lan.param(req[1])
		if !ok {
			return nil, codeParamNotSupported, nil
		}
		return append([]byte{lanParamRevision}, data...), types.CodeOK, nil
	}
}

// handleSetLANConfigParams (Transport 01h): the alerting parameters are
// writable; the addresses are the emulator's own socket and read-only.
func handleSetLANConfigParams(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) < 3 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		if _, ok := channelArg(req[0]); !ok {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		if req[1] == lanSetInProgress {
			return nil, types.CodeOK, nil
		}
		if cc, ok := m.pef.setLANAlertParam(req[1], req[2:]); ok {
			return nil, cc, nil
		}
		if _, ok := m.lan.param(req[1]); ok {
			return nil, codeParamReadOnly, nil
		}
		return nil, codeParamNotSupported, nil
	}
}

// BMC Global Enables (App 2Eh/2Fh, Table 22-4/22-5).
const (
	enableSEL        = 0x08
	enableEventBuf   = 0x04 // event message buffer: not implemented
	enableBufFullInt = 0x02
	enableRecvMsgInt = 0x01
	defaultEnables   = enableSEL
)

func handleGetGlobalEnables(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 0 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		return []byte{byte(m.enables.Load())}, types.CodeOK, nil
	}
}

// handleSetGlobalEnables: only system event logging has an effect (off,
// platform events are not logged); the interrupts and event message buffer
// belong to a system interface this BMC does not have, so enabling them is
// refused with CCh.
func handleSetGlobalEnables(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 1 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		if req[0]&^byte(enableSEL) != 0 {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		m.enables.Store(uint32(req[0]))
		m.log.Info("BMC global enables set", "sel_logging", req[0]&enableSEL != 0)
		return nil, types.CodeOK, nil
	}
}

// Watchdog (v2.0 §27).
const (
	sensorTypeWatchdog2 = 0x23
	// watchdogSensor is the Watchdog 2 sensor number (memory sensors use
	// 01h..5Fh, slot sensors 60h..BEh).
	watchdogSensor = 0xC0

	wdActionNone       = 0
	wdActionHardReset  = 1
	wdActionPowerDown  = 2
	wdActionPowerCycle = 3

	codeWatchdogUninitialised = 0x80 // Reset Watchdog: attempt to start an un-initialised timer
)

type watchdog struct {
	mu        sync.Mutex
	clk       clock.Clock
	use       byte // [7] don't log, [2:0] timer use
	actions   byte
	pretime   byte
	expired   byte // timer use expiration flags
	initial   uint16
	set       bool // initial countdown configured
	running   bool
	deadline  time.Time
	timer     clock.Timer
	gen       uint64 // identifies the live countdown
	remaining uint16 // present countdown while stopped
}

func (w *watchdog) present(now time.Time) uint16 {
	if !w.running {
		return w.remaining
	}
	d := w.deadline.Sub(now)
	if d <= 0 {
		return 0
	}
	return uint16((d + 99*time.Millisecond) / (100 * time.Millisecond))
}

func (w *watchdog) stopLocked(now time.Time) {
	if w.running {
		w.remaining = w.present(now)
	}
	w.running = false
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
}

func handleGetWatchdog(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 0 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		w := m.wd
		w.mu.Lock()
		defer w.mu.Unlock()
		use := w.use
		if w.running {
			use |= 0x40
		}
		resp := []byte{use, w.actions, w.pretime, w.expired}
		resp = binary.LittleEndian.AppendUint16(resp, w.initial)
		resp = binary.LittleEndian.AppendUint16(resp, w.present(w.clk.Now()))
		return resp, types.CodeOK, nil
	}
}

// handleSetWatchdog (App 24h, Table 27-3). The timer stops unless the
// "don't stop" bit is set; a running timer then restarts from the new
// countdown.
func handleSetWatchdog(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 6 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		use, actions := req[0], req[1]
		if t := use & 0x07; t == 0 || t > 5 || use&0x38 != 0 {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		if actions&0x07 > wdActionPowerCycle || actions&0x88 != 0 || (actions>>4)&0x07 > 3 {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		initial := binary.LittleEndian.Uint16(req[4:6])
		if req[2] != 0 && uint32(req[2])*10 > uint32(initial) && actions&0x70 != 0 {
			return nil, types.CodeRequestDataFieldInvalid, nil // pre-timeout longer than the countdown
		}
		w := m.wd
		w.mu.Lock()
		defer w.mu.Unlock()
		now := w.clk.Now()
		keep := use&0x40 != 0 && w.running
		w.stopLocked(now)
		w.use, w.actions, w.pretime = use&0x87, actions&0x77, req[2]
		w.expired &^= req[3] & 0x3E
		w.initial, w.set, w.remaining = initial, true, initial
		if keep {
			m.startWatchdogLocked(now)
		}
		return nil, types.CodeOK, nil
	}
}

func handleResetWatchdog(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 0 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		w := m.wd
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.set {
			return nil, codeWatchdogUninitialised, nil
		}
		now := w.clk.Now()
		w.stopLocked(now)
		m.startWatchdogLocked(now)
		return nil, types.CodeOK, nil
	}
}

// startWatchdogLocked runs the countdown from the initial value.
func (m *machine) startWatchdogLocked(now time.Time) {
	w := m.wd
	d := time.Duration(w.initial) * 100 * time.Millisecond
	w.running, w.deadline = true, now.Add(d)
	w.gen++
	gen := w.gen
	w.timer = w.clk.AfterFunc(d, func() { m.watchdogExpired(gen) })
}

// watchdogExpired applies the timeout action and logs it (Watchdog 2,
// offsets 00h timer expired, 01h hard reset, 02h power down, 03h power
// cycle; event data 2 = interrupt type and timer use).
func (m *machine) watchdogExpired(gen uint64) {
	w := m.wd
	w.mu.Lock()
	if w.gen != gen || !w.running {
		w.mu.Unlock()
		return
	}
	w.running, w.timer, w.remaining = false, nil, 0
	use := w.use & 0x07
	w.expired |= 1 << use
	action := w.actions & 0x07
	log := w.use&0x80 == 0
	w.mu.Unlock()

	on := m.p.Snapshot().PowerOn
	switch action {
	case wdActionPowerDown:
		if on {
			_ = chassis{m}.SetPower(context.Background(), false)
		}
	case wdActionHardReset, wdActionPowerCycle:
		if on {
			_ = chassis{m}.PowerCycle(context.Background())
		}
	}
	m.log.Warn("watchdog expired", "timer_use", use, "action", action)
	if log {
		e := sel.Event{GeneratorID: sel.GeneratorBMC, EvMRev: sel.EvMRev, SensorType: sensorTypeWatchdog2,
			SensorNumber: watchdogSensor, EventType: readingTypeSensorSpecial,
			Data: [3]byte{0xC0 | action, 0xF0 | use, 0xFF}}
		_, _ = m.logEvent(e)
	}
}

func (m *machine) stopWatchdog() {
	m.wd.mu.Lock()
	defer m.wd.mu.Unlock()
	m.wd.stopLocked(m.wd.clk.Now())
}

// DCMI (DCMI v1.5 §6): capabilities and system power (the power model
// follows the host: host.go).
const dcmiGroup = 0xDC

func handleDCMICapabilities(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 2 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		if req[0] != dcmiGroup {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		var data []byte
		switch req[1] {
		case 1: // supported capabilities: power management (the primary LAN is implied)
			data = []byte{0x00, 0x01, 0x00}
		case 2: // mandatory platform attributes: SEL size and rollover, identification, temperature sampling
			info := m.sel.Info()
			attr := uint16(min(info.Capacity, 0x0FFF))
			if info.Policy == sel.Wrap {
				attr |= 0x8000
			}
			data = binary.LittleEndian.AppendUint16(nil, attr)
			data = append(data, 0x00, 0x00, 0x00)
		case 3: // optional: power management controller at 20h, channel 0
			data = []byte{bmcSlaveAddress, 0x00}
		case 4: // manageability access: primary LAN channel 1, no secondary, no serial
			data = []byte{lanChannel, 0xFF, 0xFF}
		case 5: // enhanced power statistics: no rolling averages
			data = []byte{0x00}
		default:
			return nil, types.CodeParameterOutOfRange, nil
		}
		return append([]byte{dcmiGroup, 0x01, 0x05, 0x02}, data...), types.CodeOK, nil
	}
}

func handleDCMIPowerReading(m *machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 4 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		if req[0] != dcmiGroup {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		if req[1] != 0x01 { // only system power statistics
			return nil, types.CodeParameterOutOfRange, nil
		}
		now := m.clk.Now()
		w := powerWatts(m.p.Snapshot())
		lo, hi := m.power.observe(w)
		resp := []byte{dcmiGroup}
		resp = binary.LittleEndian.AppendUint16(resp, w)
		resp = binary.LittleEndian.AppendUint16(resp, lo)
		resp = binary.LittleEndian.AppendUint16(resp, hi)
		resp = binary.LittleEndian.AppendUint16(resp, w)
		resp = binary.LittleEndian.AppendUint32(resp, uint32(now.Unix()))
		period := now.Sub(m.started).Milliseconds()
		resp = binary.LittleEndian.AppendUint32(resp, uint32(min(max(period, 1000), 0xFFFFFFFF)))
		return append(resp, 0x40), types.CodeOK, nil // power measurement active
	}
}

// powerStats are the minimum and maximum readings since start.
type powerStats struct {
	mu     sync.Mutex
	lo, hi uint16
}

func (p *powerStats) observe(w uint16) (lo, hi uint16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lo == 0 || w < p.lo {
		p.lo = w
	}
	if w > p.hi {
		p.hi = w
	}
	return p.lo, p.hi
}

// bootFlags keeps what the platform's boot override does not carry: the
// last parameter 5 as written (for its IPMI-only bits) and the boot info
// acknowledge (parameter 4). mu also orders a Set against a Get, so a Get
// never pairs one write's bits with another's override.
type bootFlags struct {
	mu    sync.Mutex
	flags *types.BootOptionParam_BootFlags
	ack   *types.BootOptionParam_BootInfoAcknowledge
}
