package scenario

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"
)

// SELRecord is a standard SEL record (IPMI v2.0 section 32.1) with its
// sensor's SDR name.
type SELRecord struct {
	ID         uint16
	Sensor     string // "" when the SDR names no such sensor
	SensorType uint8
	Number     uint8
	EventType  uint8
	Offset     uint8 // event data 1 [3:0]
	Deassert   bool
	Data       [3]uint8
}

func (r SELRecord) String() string {
	dir := "assert"
	if r.Deassert {
		dir = "deassert"
	}
	name := r.Sensor
	if name == "" {
		name = fmt.Sprintf("sensor %02Xh", r.Number)
	}
	return fmt.Sprintf("#%d %s offset %02Xh %s", r.ID, name, r.Offset, dir)
}

// SELSource reads the System Event Log.
type SELSource interface {
	Records(ctx context.Context) ([]SELRecord, error)
	Close() error
}

// IPMISEL reads the SEL over IPMI over LAN (RMCP+) with go-ipmi's client:
// the same protocol path ipmitool's `sel elist` takes. One session is kept
// for the scenario and opened again after an error.
type IPMISEL struct {
	Host           string
	Port           int
	User, Password string

	mu    sync.Mutex
	c     *client.Client
	names map[uint8]string // sensor number -> SDR name
}

func (s *IPMISEL) connect(ctx context.Context) error {
	if s.c != nil {
		return nil
	}
	c, err := client.NewClient(s.Host, s.Port, s.User, s.Password)
	if err != nil {
		return fmt.Errorf("ipmi client: %w", err)
	}
	c.WithInterface(client.InterfaceLanplus).WithCipherSuiteID(types.CipherSuiteID3).WithTimeout(2 * time.Second).WithRetry(2)
	if err := c.Connect(ctx); err != nil {
		return fmt.Errorf("ipmi session with %s:%d: %w", s.Host, s.Port, err)
	}
	s.c = c
	return nil
}

func (s *IPMISEL) loadNames(ctx context.Context) error {
	// Raw: the names are all the engine needs; GetSDRs would also read
	// every sensor's thresholds and hysteresis.
	sdrs, err := s.c.GetSDRsRaw(ctx, types.SDRRecordTypeFullSensor, types.SDRRecordTypeCompactSensor)
	if err != nil {
		return fmt.Errorf("read the SDR: %w", err)
	}
	s.names = map[uint8]string{}
	for _, r := range sdrs {
		s.names[uint8(r.SensorNumber())] = strings.TrimSpace(r.SensorName())
	}
	return nil
}

// Records reads every standard record of the SEL.
func (s *IPMISEL) Records(ctx context.Context) ([]SELRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs, err := s.read(ctx)
	if err != nil {
		// A session the BMC dropped (idle timeout, restart): once more
		// with a new one.
		s.drop(ctx)
		recs, err = s.read(ctx)
	}
	return recs, err
}

func (s *IPMISEL) read(ctx context.Context) ([]SELRecord, error) {
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	info, err := s.c.GetSELInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("get SEL info: %w", err)
	}
	if info.Entries == 0 {
		return nil, nil
	}
	entries, err := s.c.GetSELEntries(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("read the SEL: %w", err)
	}
	var out []SELRecord
	refreshed := false
	for _, e := range entries {
		st := e.Standard
		if st == nil {
			continue
		}
		num := uint8(st.SensorNumber)
		name, ok := s.names[num]
		if !ok && !refreshed {
			// The SDR follows the RAS mode the last boot applied: read
			// it again when a record names a sensor not seen yet.
			if err := s.loadNames(ctx); err != nil {
				return nil, err
			}
			refreshed = true
			name = s.names[num]
		}
		d1 := st.EventData.EventData1
		out = append(out, SELRecord{ID: e.RecordID, Sensor: name, SensorType: uint8(st.SensorType), Number: num,
			EventType: uint8(st.EventReadingType), Offset: d1 & 0x0F, Deassert: bool(st.EventDir),
			Data: [3]uint8{d1, st.EventData.EventData2, st.EventData.EventData3}})
	}
	return out, nil
}

// answerTimeout bounds how long Answers waits for the BMC.
const answerTimeout = time.Second

// Answers opens a session of its own and asks for the device ID, as
// ipmitool's mc info does, waiting at most a second for each answer.
func (s *IPMISEL) Answers(ctx context.Context) error {
	c, err := client.NewClient(s.Host, s.Port, s.User, s.Password)
	if err != nil {
		return fmt.Errorf("ipmi client: %w", err)
	}
	c.WithInterface(client.InterfaceLanplus).WithCipherSuiteID(types.CipherSuiteID3).WithTimeout(answerTimeout).WithRetry(0)
	ctx, cancel := context.WithTimeout(ctx, 3*answerTimeout)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		return fmt.Errorf("ipmi session with %s:%d: %w", s.Host, s.Port, err)
	}
	defer c.Close(ctx)
	if _, err := c.GetDeviceID(ctx); err != nil {
		return fmt.Errorf("get device ID: %w", err)
	}
	return nil
}

func (s *IPMISEL) drop(ctx context.Context) {
	if s.c != nil {
		// A BMC that reset has forgotten the session and will not
		// answer its close: do not wait long for it.
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_ = s.c.Close(ctx)
		s.c = nil
	}
}

// Close ends the session.
func (s *IPMISEL) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.drop(ctx)
	return nil
}

type selChecker SELCheck

func (c *selChecker) want() string {
	dir := "assert"
	if c.Deassert {
		dir = "deassert"
	}
	n := ""
	if c.Count > 1 {
		n = fmt.Sprintf("%d x ", c.Count)
	}
	return fmt.Sprintf("%sSEL %s offset %02Xh %s", n, c.Sensor, *c.Offset, dir)
}

func (c *selChecker) describe() string { return c.want() }
func (c *selChecker) async() bool      { return true }

func (c *selChecker) check(ctx context.Context, env *Env) error {
	recs, err := env.SEL.Records(ctx)
	if err != nil {
		return err
	}
	var n int
	var same []string
	for _, r := range recs {
		if env.selBefore[r.ID] || !strings.EqualFold(r.Sensor, c.Sensor) {
			continue
		}
		if int(r.Offset) == *c.Offset && r.Deassert == c.Deassert {
			n++
		} else {
			same = append(same, r.String())
		}
	}
	if n >= max(c.Count, 1) {
		return nil
	}
	seen := fmt.Sprintf("%d matching record(s)", n)
	if len(same) > 0 {
		seen += "; other records of " + c.Sensor + ": " + strings.Join(tail(same, 10), ", ")
	} else {
		seen += fmt.Sprintf("; no other record of %s among %d new ones", c.Sensor, len(recs)-len(env.selBefore))
	}
	return &Mismatch{Expected: c.want(), Seen: seen}
}

// tail keeps the last n items, noting how many it left out.
func tail(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append([]string{fmt.Sprintf("(%d earlier)", len(s)-n)}, s[len(s)-n:]...)
}
