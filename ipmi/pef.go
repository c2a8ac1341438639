package ipmi

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"
	"github.com/gosnmp/gosnmp"

	"github.com/bmcemu/bmcemu/platform/sel"
)

// Platform Event Filtering (IPMI v2.0 §17, §30) and Platform Event Traps
// (PET v1.0): every event the receiver logs is matched against the event
// filter table; a match with the alert action runs its alert policy, whose
// entries name LAN alert destinations (LAN configuration parameters 18/19),
// and each destination of type PET gets an SNMPv1 trap.
//
// The configuration is volatile: a restart brings back the defaults.

const (
	pefEntries        = 16 // event filter table entries
	alertPolicies     = 16 // alert policy table entries
	alertDestinations = 4  // LAN alert destinations 1..4 (0 is volatile, unused here)
	alertStrings      = 4
	pefParamRevision  = 0x11
	filterSize        = 20

	// PET enterprise and varbind (PET v1.0 §3).
	petEnterprise  = ".1.3.6.1.4.1.3183.1.1"
	petVarbind     = ".1.3.6.1.4.1.3183.1.1.1"
	defaultPETPort = 162
)

// petEpoch is where PET local timestamps count from.
var petEpoch = time.Date(1998, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

type alertDest struct {
	typ     byte // param 18 byte 2: [7] ack, [2:0] type (0 = PET)
	timeout byte // seconds between retries when acknowledged
	retries byte // [2:0]
	format  byte // param 19 byte 2
	gateway byte
	ip      [4]byte
	mac     [6]byte
}

// pef is the PEF configuration and the alert sender.
type pef struct {
	mu        sync.Mutex
	log       *slog.Logger
	m         *machine
	port      int
	control   byte // param 1
	actions   byte // param 2
	startup   [2]byte
	filters   [pefEntries][filterSize]byte
	policies  [alertPolicies][3]byte
	guid      [17]byte
	strKeys   [alertStrings][2]byte
	strs      [alertStrings][]byte
	lastSW    uint16 // Set Last Processed Event ID, software
	lastBMC   uint16
	postpone  byte
	community [18]byte
	dests     [alertDestinations + 1]alertDest
	seq       uint16
	pending   map[uint16]chan struct{} // sequence -> acknowledged
	done      chan struct{}
	wg        sync.WaitGroup
	// path is where the configuration is kept; "" keeps it in memory.
	path string
}

func newPEF(m *machine, log *slog.Logger, port int) *pef {
	if port == 0 {
		port = defaultPETPort
	}
	p := &pef{log: log, m: m, port: port, control: 0x01, actions: 0x01,
		pending: map[uint16]chan struct{}{}, done: make(chan struct{})}
	copy(p.community[:], "public")
	// Manufacturer pre-configured filters (type 10b), all alerting through
	// policy 1: uncorrectable memory errors are critical, the other memory
	// faults warnings. Policy 1 sends to LAN destination 1, which has no
	// address until one is configured (ipmitool lan alert set 1 1 ipaddr).
	p.filters[0] = filter(0xC0, 1, 0x10, sensorTypeMemory, readingTypeSensorSpecial, 1<<memUncorrectableECC)
	p.filters[1] = filter(0xC0, 1, 0x08, sensorTypeMemory, readingTypeSensorSpecial,
		1<<memCorrectableECC|1<<memDeviceDisabled|1<<memCorrectableECCLimit|1<<memConfigurationError)
	// Memory redundancy (the RAS sensor, ras.go): running on the last
	// copy or having lost data is critical, a consumed spare or a RAID
	// cartridge out a warning; regaining redundancy is no alert.
	p.filters[2] = filter(0xC0, 1, 0x10, sensorTypeMemory, readingTypeRedundancy, 1<<redLost|1<<redInsufficient)
	p.filters[3] = filter(0xC0, 1, 0x08, sensorTypeMemory, readingTypeRedundancy, 1<<redDegraded)
	p.policies[0] = [3]byte{0x18, lanChannel<<4 | 1, 0x00}
	for i := range p.dests {
		p.dests[i] = alertDest{timeout: 3, retries: 3}
	}
	return p
}

// filter builds an event filter entry (Table 30-2) matching sensorType
// events of eventType at the given offsets from any generator, with the
// alert action.
func filter(config, policy, severity, sensorType, eventType byte, offsets uint16) [filterSize]byte {
	var f [filterSize]byte
	f[0], f[1], f[2], f[3] = config, 0x01, policy, severity
	f[4], f[5], f[6], f[7], f[8] = 0xFF, 0xFF, sensorType, 0xFF, eventType
	binary.LittleEndian.PutUint16(f[9:11], offsets)
	return f
}

func (p *pef) close() {
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	p.wg.Wait()
}

// matches applies one filter entry to an event (§17.7).
func matches(f [filterSize]byte, gen uint16, e sel.Event) bool {
	if f[0]&0x80 == 0 {
		return false
	}
	if f[4] != 0xFF && f[4] != byte(gen) || f[5] != 0xFF && f[5] != byte(gen>>8) {
		return false
	}
	if f[6] != 0xFF && f[6] != e.SensorType || f[7] != 0xFF && f[7] != e.SensorNumber {
		return false
	}
	if f[8] != 0xFF && f[8] != e.EventType {
		return false
	}
	if mask := binary.LittleEndian.Uint16(f[9:11]); mask != 0 && mask&(1<<e.Offset()) == 0 {
		return false
	}
	for i := range 3 {
		and, c1, c2 := f[11+3*i], f[12+3*i], f[13+3*i]
		if e.Data[i]&and&c1 != c2&and&c1 {
			return false
		}
	}
	return true
}

// process runs PEF on a freshly logged record.
func (p *pef) process(r sel.Record) {
	e, ok := r.Event()
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastBMC = r.ID()
	if p.control&0x01 == 0 || p.actions&0x01 == 0 {
		return
	}
	sent := map[int]bool{}
	for _, f := range p.filters {
		if !matches(f, e.GeneratorID, e) || f[1]&0x01 == 0 {
			continue
		}
		for _, pol := range p.policies {
			if pol[0]&0x08 == 0 || pol[0]>>4 != f[2]&0x0F || pol[1]>>4 != lanChannel {
				continue
			}
			d := int(pol[1] & 0x0F)
			if d < 1 || d > alertDestinations || sent[d] {
				continue
			}
			sent[d] = true
			p.sendLocked(d, e, f[3], r)
		}
	}
}

// sendLocked starts delivering one PET to destination d.
func (p *pef) sendLocked(d int, e sel.Event, severity byte, r sel.Record) {
	dest := p.dests[d]
	if dest.typ&0x07 != 0 || dest.ip == [4]byte{} {
		return // not a PET destination, or no address configured
	}
	p.seq++
	seq := p.seq
	payload := p.petData(seq, e, severity, r)
	trap := gosnmp.SnmpTrap{
		Enterprise:   petEnterprise,
		AgentAddress: "127.0.0.1",
		GenericTrap:  6,
		SpecificTrap: petSpecific(e),
		Timestamp:    uint(time.Since(time.Unix(0, 0)).Seconds()*100) & 0xFFFFFFFF,
		Variables:    []gosnmp.SnmpPDU{{Name: petVarbind, Type: gosnmp.OctetString, Value: payload}},
	}
	community := string(bytes.TrimRight(p.community[:], "\x00"))
	addr := netip.AddrFrom4(dest.ip).String()
	tries := 1
	var acked chan struct{}
	if dest.typ&0x80 != 0 {
		tries += int(dest.retries & 0x07)
		acked = make(chan struct{})
		p.pending[seq] = acked
	}
	interval := time.Duration(max(dest.timeout, 1)) * time.Second
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer func() {
			p.mu.Lock()
			delete(p.pending, seq)
			p.mu.Unlock()
		}()
		for i := range tries {
			if err := sendTrap(addr, p.port, community, trap); err != nil {
				p.log.Warn("PET not sent", "destination", d, "addr", addr, "try", i+1, "err", err)
			} else {
				p.log.Info("PET sent", "destination", d, "addr", addr, "seq", seq, "specific", trap.SpecificTrap, "try", i+1)
			}
			if acked == nil {
				return
			}
			select {
			case <-acked:
				return
			case <-p.done:
				return
			case <-time.After(interval):
			}
		}
	}()
}

func sendTrap(addr string, port int, community string, trap gosnmp.SnmpTrap) error {
	g := &gosnmp.GoSNMP{Target: addr, Port: uint16(port), Community: community, Version: gosnmp.Version1,
		Timeout: 2 * time.Second, Retries: 0, Transport: "udp"}
	if err := g.Connect(); err != nil {
		return err
	}
	defer g.Conn.Close()
	_, err := g.SendTrap(trap)
	return err
}

// petSpecific is the PET specific trap number: sensor type, event type,
// direction and offset.
func petSpecific(e sel.Event) int {
	dir := 0
	if e.Deassertion {
		dir = 1
	}
	return int(e.SensorType)<<16 | int(e.EventType)<<8 | dir<<7 | int(e.Offset())
}

// petData is the PET varbind (PET v1.0 Table 4): 47 bytes, multi-byte
// fields most significant byte first.
func (p *pef) petData(seq uint16, e sel.Event, severity byte, r sel.Record) []byte {
	b := make([]byte, 0, 47)
	guid := systemGUID(p.m.p.Snapshot())
	if p.guid[0]&0x01 != 0 {
		copy(guid[:], p.guid[1:])
	}
	b = append(b, guid[:]...)
	b = binary.BigEndian.AppendUint16(b, seq)
	b = binary.BigEndian.AppendUint32(b, uint32(int64(r.Timestamp())-petEpoch))
	utc := p.m.sel.UTCOffset()
	if utc == sel.UTCOffsetUnspecified {
		utc = -1 // FFFFh: unspecified
	}
	b = binary.BigEndian.AppendUint16(b, uint16(utc))
	b = append(b, 0x20, 0x20, severity) // trap source: IPMI BMC; event source: IPMI
	entity, instance := sensorEntity(e)
	b = append(b, byte(e.GeneratorID), e.SensorNumber, entity, instance)
	b = append(b, e.Data[0], e.Data[1], e.Data[2], 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)
	b = append(b, 0x19) // language: English
	b = binary.BigEndian.AppendUint32(b, manufacturerID)
	b = binary.BigEndian.AppendUint16(b, productID)
	return append(b, 0xC1) // no OEM custom fields
}

// sensorEntity recovers the entity and instance of this BMC's sensors.
func sensorEntity(e sel.Event) (entity, instance byte) {
	switch {
	case e.SensorType == sensorTypeMemory && e.SensorNumber == rasSensorNumber:
		return entitySystemBoard, 1
	case e.SensorType == sensorTypeMemory && e.SensorNumber >= 1 && e.SensorNumber <= maxSlots:
		return entityMemoryDevice, e.SensorNumber
	case e.SensorType == sensorTypeSlotConnector && e.SensorNumber >= slotSensorBase:
		return entityMemoryDevice, e.SensorNumber - slotSensorBase + 1
	}
	return entityMemoryDevice, 0
}

// --- commands ---

// handleGetPEFCapabilities (Table 30-1): version 51h, alert action only.
func handleGetPEFCapabilities(*machine) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 0 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		return []byte{0x51, 0x01, pefEntries}, types.CodeOK, nil
	}
}

// handleArmPEFPostponeTimer (Table 30-2): FEh disables, FFh reads.
func handleArmPEFPostponeTimer(p *pef) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 1 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if req[0] != 0xFF {
			p.postpone = req[0]
		}
		return []byte{p.postpone}, types.CodeOK, nil
	}
}

func handleSetLastProcessedEventID(p *pef) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 3 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		if req[0]&^0x01 != 0 {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		id := binary.LittleEndian.Uint16(req[1:3])
		p.mu.Lock()
		defer p.mu.Unlock()
		if req[0] == 1 {
			p.lastBMC = id
		} else {
			p.lastSW = id
		}
		return nil, types.CodeOK, nil
	}
}

func handleGetLastProcessedEventID(p *pef) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 0 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		info := p.m.sel.Info()
		last := uint16(0xFFFF)
		if r, _, err := p.m.sel.Get(0xFFFF); err == nil {
			last = r.ID()
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		resp := binary.LittleEndian.AppendUint32(nil, info.LastAdd)
		resp = binary.LittleEndian.AppendUint16(resp, last)
		resp = binary.LittleEndian.AppendUint16(resp, p.lastSW)
		return binary.LittleEndian.AppendUint16(resp, p.lastBMC), types.CodeOK, nil
	}
}

// PEF configuration parameters (Table 30-6).
const (
	pefSetInProgress = 0
	pefControl       = 1
	pefActionControl = 2
	pefStartupDelay  = 3
	pefAlertDelay    = 4
	pefFilterCount   = 5
	pefFilter        = 6
	pefFilterData1   = 7
	pefPolicyCount   = 8
	pefPolicy        = 9
	pefSystemGUID    = 10
	pefStringCount   = 11
	pefStringKeys    = 12
	pefStrings       = 13
)

// codeParamNotSupported is 80h for the configuration-parameter commands.
const codeParamNotSupported types.CompletionCode = 0x80

// codeReadOnly is 82h: attempt to write a read-only parameter.
const codeReadOnly types.CompletionCode = 0x82

func handleGetPEFConfig(p *pef) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 3 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		param, set, block := req[0]&0x7F, req[1], req[2]
		if req[0]&0x80 != 0 { // revision only
			return []byte{pefParamRevision}, types.CodeOK, nil
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		data, cc := p.getParam(param, set, block)
		if cc != types.CodeOK {
			return nil, cc, nil
		}
		return append([]byte{pefParamRevision}, data...), types.CodeOK, nil
	}
}

func (p *pef) getParam(param, set, block byte) ([]byte, types.CompletionCode) {
	switch param {
	case pefSetInProgress:
		return []byte{0}, types.CodeOK
	case pefControl:
		return []byte{p.control}, types.CodeOK
	case pefActionControl:
		return []byte{p.actions}, types.CodeOK
	case pefStartupDelay:
		return []byte{p.startup[0]}, types.CodeOK
	case pefAlertDelay:
		return []byte{p.startup[1]}, types.CodeOK
	case pefFilterCount:
		return []byte{pefEntries}, types.CodeOK
	case pefFilter, pefFilterData1:
		if set < 1 || set > pefEntries {
			return nil, types.CodeParameterOutOfRange
		}
		if param == pefFilterData1 {
			return []byte{set, p.filters[set-1][0]}, types.CodeOK
		}
		return append([]byte{set}, p.filters[set-1][:]...), types.CodeOK
	case pefPolicyCount:
		return []byte{alertPolicies}, types.CodeOK
	case pefPolicy:
		if set < 1 || set > alertPolicies {
			return nil, types.CodeParameterOutOfRange
		}
		return append([]byte{set}, p.policies[set-1][:]...), types.CodeOK
	case pefSystemGUID:
		return p.guid[:], types.CodeOK
	case pefStringCount:
		// Strings beyond the volatile string 0 (Table 30-6, parameter 11).
		return []byte{alertStrings - 1}, types.CodeOK
	case pefStringKeys:
		if set >= alertStrings {
			return nil, types.CodeParameterOutOfRange
		}
		return append([]byte{set}, p.strKeys[set][:]...), types.CodeOK
	case pefStrings:
		if set >= alertStrings || block < 1 {
			return nil, types.CodeParameterOutOfRange
		}
		chunk := make([]byte, 16)
		if off := (int(block) - 1) * 16; off < len(p.strs[set]) {
			copy(chunk, p.strs[set][off:])
		}
		return append([]byte{set, block}, chunk...), types.CodeOK
	}
	return nil, codeParamNotSupported
}

func handleSetPEFConfig(p *pef) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) < 2 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return nil, p.commitLocked(func() types.CompletionCode { return p.setParam(req[0]&0x7F, req[1:]) }), nil
	}
}

func (p *pef) setParam(param byte, d []byte) types.CompletionCode {
	exact := func(n int) bool { return len(d) == n }
	switch param {
	case pefSetInProgress, pefControl, pefActionControl, pefStartupDelay, pefAlertDelay:
		if !exact(1) {
			return types.CodeRequestDataLengthInvalid
		}
		switch param {
		case pefControl:
			p.control = d[0] & 0x0F
		case pefActionControl:
			p.actions = d[0] & 0x3F
		case pefStartupDelay:
			p.startup[0] = d[0]
		case pefAlertDelay:
			p.startup[1] = d[0]
		}
	case pefFilterCount, pefPolicyCount, pefStringCount:
		return codeReadOnly
	case pefFilter:
		if !exact(1 + filterSize) {
			return types.CodeRequestDataLengthInvalid
		}
		if d[0] < 1 || d[0] > pefEntries {
			return types.CodeParameterOutOfRange
		}
		copy(p.filters[d[0]-1][:], d[1:])
	case pefFilterData1:
		if !exact(2) {
			return types.CodeRequestDataLengthInvalid
		}
		if d[0] < 1 || d[0] > pefEntries {
			return types.CodeParameterOutOfRange
		}
		p.filters[d[0]-1][0] = d[1]
	case pefPolicy:
		if !exact(4) {
			return types.CodeRequestDataLengthInvalid
		}
		if d[0] < 1 || d[0] > alertPolicies {
			return types.CodeParameterOutOfRange
		}
		copy(p.policies[d[0]-1][:], d[1:])
	case pefSystemGUID:
		if !exact(17) {
			return types.CodeRequestDataLengthInvalid
		}
		copy(p.guid[:], d)
	case pefStringKeys:
		if !exact(3) {
			return types.CodeRequestDataLengthInvalid
		}
		if d[0] >= alertStrings {
			return types.CodeParameterOutOfRange
		}
		copy(p.strKeys[d[0]][:], d[1:])
	case pefStrings:
		if len(d) < 2 || len(d) > 18 {
			return types.CodeRequestDataLengthInvalid
		}
		set, block := d[0], d[1]
		if set >= alertStrings || block < 1 || block > 4 {
			return types.CodeParameterOutOfRange
		}
		off := (int(block) - 1) * 16
		s := p.strs[set]
		if len(s) < off+len(d)-2 {
			s = append(s, make([]byte, off+len(d)-2-len(s))...)
		}
		copy(s[off:], d[2:])
		p.strs[set] = s
	default:
		return codeParamNotSupported
	}
	return types.CodeOK
}

// handleAlertImmediate (Table 30-9): channel, destination selector, alert
// string selector, then optionally a generator ID and an event message to
// send; without one the PET describes a generic "alert immediate" event.
func handleAlertImmediate(p *pef) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 3 && len(req) != 11 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		if req[0]&0x0F != lanChannel {
			return nil, types.CodeParameterOutOfRange, nil
		}
		if req[1]&0xC0 != 0 { // get status / clear status: nothing is ever in progress
			return []byte{0x00}, types.CodeOK, nil
		}
		d := int(req[1] & 0x0F)
		if d < 1 || d > alertDestinations {
			return nil, types.CodeParameterOutOfRange, nil
		}
		e := sel.Event{GeneratorID: sel.GeneratorBMC, EvMRev: sel.EvMRev, SensorType: 0x12, // System Event
			EventType: readingTypeSensorSpecial, Data: [3]byte{0x04, 0xFF, 0xFF}} // offset 04h: PEF action
		if len(req) == 11 {
			e = sel.Event{GeneratorID: uint16(req[3]) | uint16(req[4])<<8, EvMRev: req[5], SensorType: req[6],
				SensorNumber: req[7], Deassertion: req[8]&0x80 != 0, EventType: req[8] & 0x7F, Data: [3]byte(req[8:11])}
		}
		var r sel.Record = e.Record()
		binary.LittleEndian.PutUint32(r[3:7], uint32(p.m.sel.Time().Unix()))
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.dests[d].ip == [4]byte{} {
			return []byte{0x02}, types.CodeOK, nil // alert failed: no destination address
		}
		p.sendLocked(d, e, 0x02, r)
		return []byte{0x00}, types.CodeOK, nil
	}
}

// handlePETAcknowledge (Table 30-10) stops the retries of an acknowledged
// trap: sequence number(2), timestamp(4), event source, sensor device,
// sensor number, event data 1-3.
func handlePETAcknowledge(p *pef) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) != 12 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		seq := binary.LittleEndian.Uint16(req[0:2])
		p.mu.Lock()
		defer p.mu.Unlock()
		if ch, ok := p.pending[seq]; ok {
			close(ch)
			delete(p.pending, seq)
		}
		return nil, types.CodeOK, nil
	}
}

// --- LAN configuration parameters for alerting (Table 23-4) ---

const (
	lanCommunity     = 16
	lanDestCount     = 17
	lanDestType      = 18
	lanDestAddresses = 19
)

// lanAlertParam answers Get LAN Configuration Parameters for the alerting
// parameters; ok is false for the others, which go-ipmi answers.
func (p *pef) lanAlertParam(param, set byte) (data []byte, cc types.CompletionCode, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch param {
	case lanCommunity:
		return p.community[:], types.CodeOK, true
	case lanDestCount:
		return []byte{alertDestinations}, types.CodeOK, true
	case lanDestType, lanDestAddresses:
		if int(set) > alertDestinations {
			return nil, types.CodeParameterOutOfRange, true
		}
		d := p.dests[set]
		if param == lanDestType {
			return []byte{set, d.typ, d.timeout, d.retries}, types.CodeOK, true
		}
		out := []byte{set, d.format, d.gateway}
		out = append(out, d.ip[:]...)
		return append(out, d.mac[:]...), types.CodeOK, true
	}
	return nil, 0, false
}

func (p *pef) setLANAlertParam(param byte, d []byte) (types.CompletionCode, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	handled := false
	cc := p.commitLocked(func() types.CompletionCode {
		var cc types.CompletionCode
		cc, handled = p.setLANAlertParamLocked(param, d)
		if !handled {
			return codeParamNotSupported // not ours: nothing changed, nothing to save
		}
		return cc
	})
	return cc, handled
}

// setLANAlertParamLocked needs p.mu.
func (p *pef) setLANAlertParamLocked(param byte, d []byte) (types.CompletionCode, bool) {
	switch param {
	case lanCommunity:
		if len(d) != 18 {
			return types.CodeRequestDataLengthInvalid, true
		}
		copy(p.community[:], d)
	case lanDestCount:
		return codeReadOnly, true
	case lanDestType:
		if len(d) != 4 {
			return types.CodeRequestDataLengthInvalid, true
		}
		if int(d[0]) > alertDestinations {
			return types.CodeParameterOutOfRange, true
		}
		dst := &p.dests[d[0]]
		dst.typ, dst.timeout, dst.retries = d[1]&0x87, d[2], d[3]&0x07
	case lanDestAddresses:
		if len(d) != 13 {
			return types.CodeRequestDataLengthInvalid, true
		}
		if int(d[0]) > alertDestinations {
			return types.CodeParameterOutOfRange, true
		}
		if d[1]>>4 != 0 {
			return types.CodeRequestDataFieldInvalid, true // only IPv4 + MAC
		}
		dst := &p.dests[d[0]]
		dst.format, dst.gateway = d[1], d[2]&0x01
		copy(dst.ip[:], d[3:7])
		copy(dst.mac[:], d[7:13])
	default:
		return 0, false
	}
	return types.CodeOK, true
}
