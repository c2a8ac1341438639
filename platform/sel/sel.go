package sel

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// FileName is the SEL journal's name in a BMC's state directory.
const FileName = "sel.journal"

// DefaultCapacity is the entry count a 64 KiB SEL device typically holds
// once its own bookkeeping is paid for; it is what many BMCs report.
const DefaultCapacity = 3639

// MaxCapacity keeps the free-space figure (16 bits, in bytes) and the
// record IDs meaningful.
const MaxCapacity = 0xFFFE

// Version is the SEL command-set version Get SEL Info reports: 51h is
// IPMI v1.5 / v2.0.
const Version = 0x51

// Unspecified is the "no timestamp" value (Get SEL Info before anything was
// ever added or erased).
const Unspecified uint32 = 0xFFFFFFFF

// UTCOffsetUnspecified is the Get SEL Time UTC Offset value meaning "not
// specified" (v2.0 §31.11a).
const UTCOffsetUnspecified int16 = 0x07FF

// Policy is what happens to an Add when the SEL is full.
type Policy uint8

const (
	// Wrap overwrites the oldest entry (and sets the overflow flag): a
	// long-running emulator keeps logging, as Redfish "WrapsWhenFull".
	Wrap Policy = iota
	// Stop refuses the entry and sets the overflow flag: the classic IPMI
	// behaviour, Redfish "NeverOverWrites".
	Stop
)

func (p Policy) String() string {
	if p == Stop {
		return "stop"
	}
	return "wrap"
}

// ParsePolicy reads "wrap" or "stop"; "" is Wrap.
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "", "wrap":
		return Wrap, nil
	case "stop":
		return Stop, nil
	}
	return Wrap, fmt.Errorf("sel: policy %q (want wrap or stop)", s)
}

// Errors the SEL returns; the IPMI layer maps each to a completion code.
var (
	ErrNotFound     = errors.New("sel: no such record")                            // CBh
	ErrFull         = errors.New("sel: full")                                      // C4h
	ErrReservation  = errors.New("sel: reservation cancelled or invalid")          // C5h
	ErrOutOfRange   = errors.New("sel: parameter out of range")                    // C9h
	ErrLength       = errors.New("sel: record length mismatch")                    // 80h (Partial Add)
	ErrClosed       = errors.New("sel: closed")                                    // FFh
	errInvalidFrame = errors.New("sel: journal frame invalid")                     // internal
	errWrongFile    = errors.New("sel: file is not a bmcemu SEL journal (header)") // internal
)

// Options configure Open.
type Options struct {
	// Path is the journal file; "" keeps the SEL in memory only.
	Path string
	// Capacity in entries; 0 is DefaultCapacity.
	Capacity int
	Policy   Policy
	// Now is the host clock the SEL clock runs on; nil is time.Now.
	Now func() time.Time
	// CompactAfter is how many journal frames may accumulate before the
	// journal is rewritten; 0 is twice the capacity plus 64.
	CompactAfter int
	Logger       *slog.Logger
}

// Info is what Get SEL Info reports.
type Info struct {
	Entries   int
	Capacity  int
	FreeBytes int
	LastAdd   uint32 // Unspecified if never
	LastErase uint32 // Unspecified if never
	Overflow  bool
	Policy    Policy
}

// Log is the read side of a SEL, for surfaces that present it (Redfish
// LogService) rather than manage it through IPMI.
type Log interface {
	Info() Info
	Entries() []Record
	Clear() error
}

var _ Log = (*SEL)(nil)

// SEL is one System Event Log. All methods are safe for concurrent use.
type SEL struct {
	mu       sync.Mutex
	opts     Options
	log      *slog.Logger
	entries  []Record // oldest first
	nextID   uint16
	overflow bool
	lastAdd  uint32
	lastErs  uint32
	// clockOffset is SEL time minus host time, whole seconds.
	clockOffset int64
	utcOffset   int16

	reservation uint16
	partial     *partialAdd

	j      *journal // nil: volatile
	closed bool
}

type partialAdd struct {
	reservation uint16
	id          uint16
	buf         []byte
}

// Open loads (or creates) the SEL at opts.Path. A damaged journal tail, as
// left by a kill during a write, is dropped and the journal rewritten.
func Open(opts Options) (*SEL, error) {
	if opts.Capacity == 0 {
		opts.Capacity = DefaultCapacity
	}
	if opts.Capacity < 1 || opts.Capacity > MaxCapacity {
		return nil, fmt.Errorf("sel: capacity %d (want 1..%d)", opts.Capacity, MaxCapacity)
	}
	if opts.Policy != Wrap && opts.Policy != Stop {
		return nil, fmt.Errorf("sel: policy %d", opts.Policy)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CompactAfter <= 0 {
		opts.CompactAfter = 2*opts.Capacity + 64
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &SEL{
		opts:      opts,
		log:       opts.Logger,
		nextID:    1,
		lastAdd:   Unspecified,
		lastErs:   Unspecified,
		utcOffset: UTCOffsetUnspecified,
	}
	if opts.Path == "" {
		return s, nil
	}
	j, err := openJournal(opts.Path, s)
	if err != nil {
		return nil, err
	}
	s.j = j
	return s, nil
}

// Close releases the journal. Further mutations fail with ErrClosed.
func (s *SEL) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.j != nil {
		return s.j.close()
	}
	return nil
}

// now is the SEL clock in whole seconds.
func (s *SEL) now() uint32 {
	return uint32(s.opts.Now().Unix() + s.clockOffset)
}

// Time is the SEL clock.
func (s *SEL) Time() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Unix(int64(s.now()), 0).UTC()
}

// SetTime sets the SEL clock; it keeps running from there on the host clock.
func (s *SEL) SetTime(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	off := t.Unix() - s.opts.Now().Unix()
	return s.commit(frame{op: opClock, payload: clockPayload(off, s.utcOffset)}, func() { s.clockOffset = off })
}

// UTCOffset is the SEL time's offset from UTC in minutes, or
// UTCOffsetUnspecified.
func (s *SEL) UTCOffset() int16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.utcOffset
}

// SetUTCOffset sets the offset: -1440..1440 minutes or UTCOffsetUnspecified.
func (s *SEL) SetUTCOffset(min int16) error {
	if min != UTCOffsetUnspecified && (min < -1440 || min > 1440) {
		return ErrOutOfRange
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commit(frame{op: opClock, payload: clockPayload(s.clockOffset, min)}, func() { s.utcOffset = min })
}

// Info summarises the SEL.
func (s *SEL) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Info{
		Entries:   len(s.entries),
		Capacity:  s.opts.Capacity,
		FreeBytes: (s.opts.Capacity - len(s.entries)) * RecordSize,
		LastAdd:   s.lastAdd,
		LastErase: s.lastErs,
		Overflow:  s.overflow,
		Policy:    s.opts.Policy,
	}
}

// Entries returns a copy of all records, oldest first.
func (s *SEL) Entries() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Record, len(s.entries))
	copy(out, s.entries)
	return out
}

// Reserve takes a new reservation, cancelling any earlier one.
func (s *SEL) Reserve() uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reservation++
	if s.reservation == 0 {
		s.reservation = 1
	}
	s.partial = nil
	return s.reservation
}

// ReservationValid reports whether id is the live reservation.
func (s *SEL) ReservationValid(id uint16) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.validLocked(id)
}

func (s *SEL) validLocked(id uint16) bool { return id != 0 && id == s.reservation }

// cancelReservation is what a change of content does to the reservation
// (v2.0 §31.4.1): the holder learns that IDs it read may be stale.
func (s *SEL) cancelReservation() {
	if s.reservation != 0 {
		s.reservation++
		if s.reservation == 0 {
			s.reservation = 1
		}
	}
	s.partial = nil
}

// index resolves a record ID, 0000h meaning the first record and FFFFh the
// last.
func (s *SEL) index(id uint16) (int, bool) {
	if len(s.entries) == 0 {
		return 0, false
	}
	switch id {
	case 0x0000:
		return 0, true
	case 0xFFFF:
		return len(s.entries) - 1, true
	}
	for i, r := range s.entries {
		if r.ID() == id {
			return i, true
		}
	}
	return 0, false
}

// Get returns a record and the ID of the next one (FFFFh after the last).
func (s *SEL) Get(id uint16) (Record, uint16, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.index(id)
	if !ok {
		return Record{}, 0, ErrNotFound
	}
	next := uint16(0xFFFF)
	if i+1 < len(s.entries) {
		next = s.entries[i+1].ID()
	}
	return s.entries[i], next, nil
}

// allocID hands out the next record ID, skipping 0000h, FFFFh and IDs in
// use (after the 16-bit counter wraps).
func (s *SEL) allocID() uint16 {
	for {
		id := s.nextID
		s.nextID++
		if s.nextID == 0xFFFF {
			s.nextID = 1
		}
		if id == 0 || id == 0xFFFF {
			continue
		}
		if _, used := s.index(id); !used || len(s.entries) == 0 {
			return id
		}
	}
}

// Add stores r with a fresh record ID and, for timestamped types, the SEL
// time; it returns the stored record once it is durable.
func (s *SEL) Add(r Record) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addLocked(r, 0)
}

// addLocked stores r under id, or under a fresh ID when id is 0.
func (s *SEL) addLocked(r Record, id uint16) (Record, error) {
	if s.closed {
		return Record{}, ErrClosed
	}
	if len(s.entries) >= s.opts.Capacity && s.opts.Policy == Stop {
		if !s.overflow {
			if err := s.commit(frame{op: opOverflow, payload: [16]byte{1}}, func() { s.overflow = true }); err != nil {
				return Record{}, err
			}
		}
		return Record{}, ErrFull
	}
	saved := s.nextID
	if id == 0 {
		id = s.allocID()
	}
	r.setID(id)
	now := s.now()
	if r.Timestamped() {
		r.setTimestamp(now)
	}
	err := s.commit(frame{op: opAdd, ts: now, payload: r}, func() { s.applyAdd(r, now) })
	if err != nil {
		s.nextID = saved
		return Record{}, err
	}
	s.cancelReservation()
	return r, nil
}

func (s *SEL) applyAdd(r Record, ts uint32) {
	if len(s.entries) >= s.opts.Capacity {
		n := len(s.entries) - s.opts.Capacity + 1
		s.entries = append(s.entries[:0], s.entries[n:]...)
		s.overflow = true
	}
	s.entries = append(s.entries, r)
	s.lastAdd = ts
}

// Delete removes a record (0000h first, FFFFh last) and returns its ID.
func (s *SEL) Delete(id uint16) (uint16, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteLocked(id)
}

// DeleteReserved is Delete under reservation res.
func (s *SEL) DeleteReserved(res, id uint16) (uint16, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.validLocked(res) {
		return 0, ErrReservation
	}
	return s.deleteLocked(id)
}

func (s *SEL) deleteLocked(id uint16) (uint16, error) {
	if s.closed {
		return 0, ErrClosed
	}
	i, ok := s.index(id)
	if !ok {
		return 0, ErrNotFound
	}
	rid := s.entries[i].ID()
	now := s.now()
	var p [16]byte
	p[0], p[1] = byte(rid), byte(rid>>8)
	if err := s.commit(frame{op: opDelete, ts: now, payload: p}, func() { s.applyDelete(rid, now) }); err != nil {
		return 0, err
	}
	s.cancelReservation()
	return rid, nil
}

func (s *SEL) applyDelete(id uint16, ts uint32) {
	for i, r := range s.entries {
		if r.ID() == id {
			s.entries = append(s.entries[:i], s.entries[i+1:]...)
			break
		}
	}
	s.lastErs = ts
}

// Clear erases every record and the overflow flag.
func (s *SEL) Clear() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clearLocked()
}

// ClearReserved is Clear under reservation res.
func (s *SEL) ClearReserved(res uint16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.validLocked(res) {
		return ErrReservation
	}
	return s.clearLocked()
}

func (s *SEL) clearLocked() error {
	if s.closed {
		return ErrClosed
	}
	now := s.now()
	if err := s.commit(frame{op: opClear, ts: now}, func() { s.applyClear(now) }); err != nil {
		return err
	}
	s.cancelReservation()
	// A clear is the natural moment to shrink the journal.
	if s.j != nil && s.j.frames > 1 {
		if err := s.compactLocked(); err != nil {
			s.log.Warn("SEL journal compaction failed", "err", err)
		}
	}
	return nil
}

func (s *SEL) applyClear(ts uint32) {
	s.entries = nil
	s.overflow = false
	s.lastErs = ts
}

// PartialAdd implements Partial Add SEL Entry (v2.0 §31.7). The first
// fragment has id 0000h and offset 0; it returns the record ID the entry
// will get, which later fragments quote. The record is stored when the
// fragment with last set arrives.
func (s *SEL) PartialAdd(res, id uint16, offset int, last bool, data []byte) (uint16, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	if !s.validLocked(res) {
		return 0, ErrReservation
	}
	if offset == 0 && id == 0 {
		s.partial = &partialAdd{reservation: res, id: s.allocID()}
	}
	p := s.partial
	if p == nil || p.reservation != res || p.id != id && !(offset == 0 && id == 0) {
		return 0, ErrNotFound
	}
	if offset != len(p.buf) || offset+len(data) > RecordSize {
		return 0, ErrOutOfRange
	}
	p.buf = append(p.buf, data...)
	if !last {
		return p.id, nil
	}
	s.partial = nil
	if len(p.buf) != RecordSize {
		return 0, ErrLength
	}
	var r Record
	copy(r[:], p.buf)
	// The ID was handed out with the first fragment; keep it.
	stored, err := s.addLocked(r, p.id)
	if err != nil {
		return 0, err
	}
	return stored.ID(), nil
}

// commit makes one change durable, then applies it in memory.
func (s *SEL) commit(f frame, apply func()) error {
	if s.closed {
		return ErrClosed
	}
	if s.j != nil {
		if err := s.j.append(f); err != nil {
			return err
		}
	}
	apply()
	if s.j != nil && s.j.frames > s.opts.CompactAfter {
		if err := s.compactLocked(); err != nil {
			// The journal is still valid, just long; try again later.
			s.log.Warn("SEL journal compaction failed", "err", err)
		}
	}
	return nil
}
