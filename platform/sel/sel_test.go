package sel

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func open(t *testing.T, o Options) *SEL {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func memEvent(offset uint8, module uint8) Record {
	return Event{GeneratorID: GeneratorBMC, EvMRev: EvMRev, SensorType: 0x0C, SensorNumber: 1, EventType: 0x6F,
		Data: [3]byte{0x30 | offset, 0xFF, module}}.Record()
}

func TestRecordLayout(t *testing.T) {
	e := Event{GeneratorID: 0x0020, EvMRev: 4, SensorType: 0x0C, SensorNumber: 7, Deassertion: true, EventType: 0x6F,
		Data: [3]byte{0x36, 0xFF, 3}}
	r := e.Record()
	r.setID(0x1234)
	r.setTimestamp(0x01020304)
	want := Record{0x34, 0x12, 0x02, 0x04, 0x03, 0x02, 0x01, 0x20, 0x00, 0x04, 0x0C, 0x07, 0xEF, 0x36, 0xFF, 0x03}
	if r != want {
		t.Fatalf("record % x, want % x", r, want)
	}
	back, ok := r.Event()
	if !ok || back != e || r.ID() != 0x1234 || r.Timestamp() != 0x01020304 || !r.Timestamped() {
		t.Fatalf("decode: %+v %v", back, ok)
	}
	if _, ok := (Record{2: 0xE0}).Event(); ok || (Record{2: 0xE0}).Timestamped() {
		t.Error("OEM non-timestamped record decoded as an event")
	}
}

func TestAddGetDelete(t *testing.T) {
	clk := &fakeClock{t: t0}
	s := open(t, Options{Now: clk.Now, Capacity: 4})
	if _, _, err := s.Get(0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get on empty SEL: %v", err)
	}
	var ids []uint16
	for i := range 3 {
		r, err := s.Add(memEvent(6, uint8(i)))
		if err != nil {
			t.Fatal(err)
		}
		if r.Time() != clk.Now() {
			t.Errorf("timestamp %v, want %v", r.Time(), clk.Now())
		}
		ids = append(ids, r.ID())
		clk.advance(time.Second)
	}
	if ids[0] != 1 || ids[1] != 2 || ids[2] != 3 {
		t.Fatalf("ids %v", ids)
	}
	r, next, err := s.Get(0)
	if err != nil || r.ID() != 1 || next != 2 {
		t.Fatalf("Get(0) = %d next %d %v", r.ID(), next, err)
	}
	r, next, err = s.Get(0xFFFF)
	if err != nil || r.ID() != 3 || next != 0xFFFF {
		t.Fatalf("Get(FFFF) = %d next %d %v", r.ID(), next, err)
	}
	res := s.Reserve()
	if id, err := s.DeleteReserved(res, 2); err != nil || id != 2 {
		t.Fatalf("delete: %d %v", id, err)
	}
	if s.ReservationValid(res) {
		t.Error("delete left the reservation valid")
	}
	if _, err := s.DeleteReserved(res, 1); !errors.Is(err, ErrReservation) {
		t.Errorf("delete with a cancelled reservation: %v", err)
	}
	if _, err := s.Delete(2); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
	if _, next, _ := s.Get(1); next != 3 {
		t.Errorf("next after 1 = %d, want 3", next)
	}
	res = s.Reserve()
	if _, err := s.Add(memEvent(0, 1)); err != nil {
		t.Fatal(err)
	}
	if s.ReservationValid(res) {
		t.Error("add left the reservation valid")
	}
	info := s.Info()
	if info.Entries != 3 || info.FreeBytes != 16 || info.LastErase != uint32(t0.Unix()+3) || info.LastAdd != uint32(t0.Unix()+3) {
		t.Errorf("info %+v", info)
	}
	if err := s.ClearReserved(res); !errors.Is(err, ErrReservation) {
		t.Errorf("clear with stale reservation: %v", err)
	}
	if err := s.ClearReserved(s.Reserve()); err != nil {
		t.Fatal(err)
	}
	if info := s.Info(); info.Entries != 0 || info.Overflow {
		t.Errorf("after clear: %+v", info)
	}
	// IDs are not reused after a clear.
	if r, _ := s.Add(memEvent(6, 0)); r.ID() != 5 {
		t.Errorf("id after clear = %d, want 5", r.ID())
	}
}

func TestPolicies(t *testing.T) {
	s := open(t, Options{Capacity: 2, Policy: Stop})
	for range 2 {
		if _, err := s.Add(memEvent(6, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Add(memEvent(6, 0)); !errors.Is(err, ErrFull) {
		t.Fatalf("add to a full stop-policy SEL: %v", err)
	}
	if info := s.Info(); !info.Overflow || info.Entries != 2 || info.FreeBytes != 0 {
		t.Errorf("info %+v", info)
	}

	w := open(t, Options{Capacity: 2, Policy: Wrap})
	for range 3 {
		if _, err := w.Add(memEvent(6, 0)); err != nil {
			t.Fatal(err)
		}
	}
	es := w.Entries()
	if len(es) != 2 || es[0].ID() != 2 || es[1].ID() != 3 || !w.Info().Overflow {
		t.Errorf("wrap: %v overflow %v", es, w.Info().Overflow)
	}
}

func TestPartialAdd(t *testing.T) {
	s := open(t, Options{})
	r := memEvent(7, 2)
	if _, err := s.PartialAdd(1, 0, 0, false, r[:5]); !errors.Is(err, ErrReservation) {
		t.Fatalf("no reservation: %v", err)
	}
	res := s.Reserve()
	id, err := s.PartialAdd(res, 0, 0, false, r[:5])
	if err != nil || id == 0 {
		t.Fatalf("first fragment: %d %v", id, err)
	}
	if _, err := s.PartialAdd(res, id, 4, false, r[4:9]); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("overlapping fragment: %v", err)
	}
	if _, err := s.PartialAdd(res, id, 5, false, r[5:10]); err != nil {
		t.Fatal(err)
	}
	got, err := s.PartialAdd(res, id, 10, true, r[10:])
	if err != nil || got != id {
		t.Fatalf("last fragment: %d %v", got, err)
	}
	stored, _, _ := s.Get(id)
	if e, _ := stored.Event(); e.Data != [3]byte{0x37, 0xFF, 2} {
		t.Errorf("stored % x", stored)
	}
	// A short record is rejected.
	res = s.Reserve()
	id, _ = s.PartialAdd(res, 0, 0, false, r[:4])
	if _, err := s.PartialAdd(res, id, 4, true, r[4:8]); !errors.Is(err, ErrLength) {
		t.Errorf("short record: %v", err)
	}
}

func TestTimeAndOffset(t *testing.T) {
	clk := &fakeClock{t: t0}
	dir := t.TempDir()
	path := filepath.Join(dir, "sel")
	s := open(t, Options{Path: path, Now: clk.Now})
	if s.UTCOffset() != UTCOffsetUnspecified || !s.Time().Equal(t0) {
		t.Fatalf("initial %v %d", s.Time(), s.UTCOffset())
	}
	want := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.SetTime(want); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUTCOffset(-300); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUTCOffset(1441); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("offset 1441: %v", err)
	}
	clk.advance(10 * time.Second)
	if got := s.Time(); !got.Equal(want.Add(10 * time.Second)) {
		t.Errorf("SEL time %v", got)
	}
	r, _ := s.Add(memEvent(6, 0))
	if !r.Time().Equal(want.Add(10 * time.Second)) {
		t.Errorf("record time %v", r.Time())
	}
	s.Close()
	s2 := open(t, Options{Path: path, Now: clk.Now})
	if got := s2.Time(); !got.Equal(want.Add(10*time.Second)) || s2.UTCOffset() != -300 {
		t.Errorf("after reopen: %v %d", got, s2.UTCOffset())
	}
}

func TestPersistenceAndCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sel")
	clk := &fakeClock{t: t0}
	o := Options{Path: path, Now: clk.Now, Capacity: 8, CompactAfter: 5}
	s := open(t, o)
	for i := range 20 {
		if _, err := s.Add(memEvent(6, uint8(i))); err != nil {
			t.Fatal(err)
		}
		clk.advance(time.Second)
	}
	if _, err := s.Delete(15); err != nil {
		t.Fatal(err)
	}
	want, wantInfo := s.Entries(), s.Info()
	s.Close()
	st, _ := os.Stat(path)
	if st.Size() > frameSize*(8+3+6) {
		t.Errorf("journal is %d bytes; compaction did not run", st.Size())
	}
	s2 := open(t, o)
	if got := s2.Entries(); len(got) != len(want) || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
		t.Fatalf("reopened %v\nwant %v", got, want)
	}
	if got := s2.Info(); got != wantInfo {
		t.Errorf("info %+v, want %+v", got, wantInfo)
	}
	if r, _ := s2.Add(memEvent(6, 0)); r.ID() != 21 {
		t.Errorf("next id after reopen %d, want 21", r.ID())
	}
}

func TestDamagedJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sel")
	o := Options{Path: path, CompactAfter: 1000}
	s := open(t, o)
	for i := range 5 {
		if _, err := s.Add(memEvent(6, uint8(i))); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	data, _ := os.ReadFile(path)
	// A torn last frame, then a corrupted middle frame.
	if err := os.WriteFile(path, data[:len(data)-9], 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, o)
	if n := len(s2.Entries()); n != 4 {
		t.Fatalf("%d entries after a torn tail, want 4", n)
	}
	s2.Close()
	data, _ = os.ReadFile(path)
	if len(data)%frameSize != 0 {
		t.Fatalf("journal not rewritten: %d bytes", len(data))
	}
	data[frameSize*2+10] ^= 0xFF // the second add
	os.WriteFile(path, data, 0o600)
	s3 := open(t, o)
	es := s3.Entries()
	if len(es) != 3 || es[0].ID() != 1 || es[1].ID() != 3 {
		t.Fatalf("after a bad middle frame: %v", es)
	}
	s3.Close()

	os.WriteFile(path, []byte("not a journal at all, not at all"), 0o600)
	if _, err := Open(o); !errors.Is(err, errWrongFile) {
		t.Errorf("foreign file: %v", err)
	}
}
