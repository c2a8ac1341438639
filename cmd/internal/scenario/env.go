package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/bmcemu/bmcemu/platform/control"
)

// Env is what steps act through: one BMC's surfaces and the scenario's
// clock.
type Env struct {
	Control *control.Client
	Redfish *Redfish
	SEL     SELSource
	Events  *Receiver
	Clock   Clock
	// Settle is how long, on the wall clock, an expectation keeps
	// checking after its simulated time is up.
	Settle time.Duration

	selBefore map[uint16]bool   // SEL record ids present before the scenario
	pfBefore  map[string]uint64 // protocol faults injected before it, by surface/kind
}

// Clock is the scenario's simulated time.
type Clock interface {
	// Elapsed is the simulated time since the scenario started.
	Elapsed() time.Duration
	// Advance lets d of simulated time pass.
	Advance(ctx context.Context, d time.Duration) error
	// Exact says that when Advance returns, every hardware step due by
	// then has run (a stepped clock); a server's own clock may lag what
	// the wall clock says under load.
	Exact() bool
	// Poll waits between two checks of an expectation: about d of
	// simulated time, but never so little wall time that checks hammer
	// a server whose clock runs fast.
	Poll(ctx context.Context, d time.Duration) error
}

// SteppedClock is advanced by the engine: the in-process BMC's timers
// fire as Advance passes them.
type SteppedClock interface {
	Advance(d time.Duration)
}

// NewSteppedClock is the scenario clock of a BMC whose clock the engine
// advances itself (clock.Manual): Advance fires the timers it passes.
func NewSteppedClock(c SteppedClock) Clock { return &stepped{c: c} }

// stepped runs an in-process BMC's manual clock.
type stepped struct {
	c       SteppedClock
	elapsed time.Duration
}

func (s *stepped) Elapsed() time.Duration { return s.elapsed }
func (s *stepped) Exact() bool            { return true }
func (s *stepped) Poll(ctx context.Context, d time.Duration) error {
	return s.Advance(ctx, d)
}
func (s *stepped) Advance(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.c.Advance(d)
	s.elapsed += d
	return nil
}

// paced follows a remote server's clock, which runs Speed times faster
// than the wall clock (its serve --speed).
type paced struct {
	start time.Time
	speed float64
}

func (p *paced) Elapsed() time.Duration {
	return time.Duration(float64(time.Since(p.start)) * p.speed)
}

func (p *paced) Exact() bool { return false }

// minPoll is the shortest wall-clock pause between two checks of a
// remote server.
const minPoll = 5 * time.Millisecond

func (p *paced) Poll(ctx context.Context, d time.Duration) error {
	return p.sleep(ctx, max(time.Duration(float64(d)/p.speed), minPoll))
}

func (p *paced) Advance(ctx context.Context, d time.Duration) error {
	return p.sleep(ctx, time.Duration(float64(d)/p.speed))
}

func (p *paced) sleep(ctx context.Context, wall time.Duration) error {
	t := time.NewTimer(wall)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Redfish is a small Redfish client with HTTP Basic authentication.
type Redfish struct {
	BaseURL        string // scheme://host:port
	User, Password string
	HTTP           *http.Client
}

// HTTPError is a Redfish answer other than 2xx.
type HTTPError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Message)
}

// httpStatus is the HTTP status an error from either client carries.
func httpStatus(err error) (int, bool) {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status, true
	}
	var ae *control.APIError
	if errors.As(err, &ae) {
		return ae.Status, true
	}
	return 0, false
}

func (r *Redfish) do(ctx context.Context, method, path string, in, out any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(r.BaseURL, "/")+path, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(r.User, r.Password)
	hc := r.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(data))
		var e struct {
			Error struct {
				Message  string `json:"message"`
				Extended []struct {
					Message string `json:"Message"`
				} `json:"@Message.ExtendedInfo"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			msg = e.Error.Message
			if len(e.Error.Extended) > 0 {
				msg = e.Error.Extended[0].Message
			}
		}
		return resp, &HTTPError{Method: method, Path: path, Status: resp.StatusCode, Message: msg}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp, nil
}

// Get reads a resource.
func (r *Redfish) Get(ctx context.Context, path string, out any) error {
	_, err := r.do(ctx, http.MethodGet, path, nil, out)
	return err
}

// Post posts a body and discards the answer.
func (r *Redfish) Post(ctx context.Context, path string, body any) error {
	_, err := r.do(ctx, http.MethodPost, path, body, nil)
	return err
}

// Create posts a body and returns the Location of what it made.
func (r *Redfish) Create(ctx context.Context, path string, body any) (string, error) {
	resp, err := r.do(ctx, http.MethodPost, path, body, nil)
	if err != nil {
		return "", err
	}
	return resp.Header.Get("Location"), nil
}

// Delete deletes a resource.
func (r *Redfish) Delete(ctx context.Context, path string) error {
	_, err := r.do(ctx, http.MethodDelete, path, nil, nil)
	return err
}
