package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bmcemu/bmcemu/platform/netfault"
)

// Client calls the control API; `bmcemu ctl` is built on it.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8000
	// Member, when set, addresses one member of a fleet through the
	// fleet's control listener (Prefix/servers/{Member}/...).
	Member   string
	User     string
	Password string
	HTTP     *http.Client
}

// APIError is a non-2xx answer.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	u := strings.TrimRight(c.BaseURL, "/") + Prefix
	if c.Member != "" {
		u += "/servers/" + url.PathEscape(c.Member)
	}
	u += path
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(c.User, c.Password)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		var e Error
		if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
			return &APIError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
		}
		return &APIError{Status: resp.StatusCode, Code: http.StatusText(resp.StatusCode), Message: strings.TrimSpace(string(data))}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, u, err)
		}
	}
	return nil
}

// System reads identity and power.
func (c *Client) System(ctx context.Context) (System, error) {
	var s System
	return s, c.do(ctx, http.MethodGet, "/system", nil, &s)
}

// Slots lists every slot.
func (c *Client) Slots(ctx context.Context) ([]Slot, error) {
	var s []Slot
	return s, c.do(ctx, http.MethodGet, "/slots", nil, &s)
}

// Slot reads one slot.
func (c *Client) Slot(ctx context.Context, name string) (Slot, error) {
	var s Slot
	return s, c.do(ctx, http.MethodGet, "/slots/"+url.PathEscape(name), nil, &s)
}

// Insert seats a module in slot.
func (c *Client) Insert(ctx context.Context, slot string, m ModuleRequest) (Slot, error) {
	var s Slot
	return s, c.do(ctx, http.MethodPut, "/slots/"+url.PathEscape(slot)+"/module", m, &s)
}

// Remove pulls the module out of slot.
func (c *Client) Remove(ctx context.Context, slot string) (Module, error) {
	var m Module
	return m, c.do(ctx, http.MethodDelete, "/slots/"+url.PathEscape(slot)+"/module", nil, &m)
}

// Attention presses a slot's attention button.
func (c *Client) Attention(ctx context.Context, slot string) (Slot, error) {
	var s Slot
	return s, c.do(ctx, http.MethodPost, "/slots/"+url.PathEscape(slot)+"/attention", nil, &s)
}

// Latch opens or closes a slot's latch.
func (c *Client) Latch(ctx context.Context, slot string, open bool) (Slot, error) {
	var s Slot
	return s, c.do(ctx, http.MethodPut, "/slots/"+url.PathEscape(slot)+"/latch", LatchRequest{Open: &open}, &s)
}

// FaultKinds lists the injectable faults.
func (c *Client) FaultKinds(ctx context.Context) ([]FaultKind, error) {
	var k []FaultKind
	return k, c.do(ctx, http.MethodGet, "/faults", nil, &k)
}

// ArmFault arms kind on slot.
func (c *Client) ArmFault(ctx context.Context, slot, kind string) (Slot, error) {
	var s Slot
	return s, c.do(ctx, http.MethodPut, "/slots/"+url.PathEscape(slot)+"/faults/"+url.PathEscape(kind), nil, &s)
}

// ClearFault disarms kind ("all": every kind) on slot.
func (c *Client) ClearFault(ctx context.Context, slot, kind string) (Slot, error) {
	var s Slot
	return s, c.do(ctx, http.MethodDelete, "/slots/"+url.PathEscape(slot)+"/faults/"+url.PathEscape(kind), nil, &s)
}

// Events long-polls the event stream for records after since, waiting up
// to wait for the first one.
func (c *Client) Events(ctx context.Context, since uint64, wait time.Duration) (EventPage, error) {
	var p EventPage
	q := url.Values{"since": {fmt.Sprint(since)}, "wait": {fmt.Sprintf("%.3f", wait.Seconds())}}
	return p, c.do(ctx, http.MethodGet, "/events?"+q.Encode(), nil, &p)
}

// Dmesg reads the kernel log after line since.
func (c *Client) Dmesg(ctx context.Context, since uint64) ([]DmesgLine, error) {
	var l []DmesgLine
	return l, c.do(ctx, http.MethodGet, "/os/dmesg?since="+fmt.Sprint(since), nil, &l)
}

// Blocks lists the memory blocks.
func (c *Client) Blocks(ctx context.Context) (Blocks, error) {
	var b Blocks
	return b, c.do(ctx, http.MethodGet, "/os/blocks", nil, &b)
}

// SetBlockState onlines (online, online_kernel, online_movable) or
// offlines (offline) memory block id.
func (c *Client) SetBlockState(ctx context.Context, id int, state string) (json.RawMessage, error) {
	var b json.RawMessage
	return b, c.do(ctx, http.MethodPut, fmt.Sprintf("/os/blocks/%d/state", id), map[string]string{"state": state}, &b)
}

// Get reads any resource under Prefix as raw JSON (the in-band views).
func (c *Client) Get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, nil, out)
}

// ProtocolFaults reads the protocol fault kinds, rules and counters.
func (c *Client) ProtocolFaults(ctx context.Context) (netfault.Status, error) {
	var st netfault.Status
	return st, c.do(ctx, http.MethodGet, "/protocol-faults", nil, &st)
}

// SetProtocolFault sets the rule for surface's kind.
func (c *Client) SetProtocolFault(ctx context.Context, surface, kind string, spec netfault.Spec) (netfault.RuleStatus, error) {
	var st netfault.RuleStatus
	return st, c.do(ctx, http.MethodPut, "/protocol-faults/"+url.PathEscape(surface)+"/"+url.PathEscape(kind), spec, &st)
}

// ClearProtocolFault clears the rule of surface's kind ("all" for either
// matches every one) and returns how many were cleared.
func (c *Client) ClearProtocolFault(ctx context.Context, surface, kind string) (int, error) {
	var out ClearedFaults
	return out.Cleared, c.do(ctx, http.MethodDelete, "/protocol-faults/"+url.PathEscape(surface)+"/"+url.PathEscape(kind), nil, &out)
}

// Servers lists a fleet's members.
func (c *Client) Servers(ctx context.Context) ([]ServerInfo, error) {
	var out []ServerInfo
	err := c.fleet().do(ctx, http.MethodGet, "/servers", nil, &out)
	return out, err
}

// AddServer adds a member to a fleet; spec is a fleet file's member entry
// (name, profile, address, ports, credentials, ras_mode, modules).
func (c *Client) AddServer(ctx context.Context, spec map[string]any) (ServerInfo, error) {
	var out ServerInfo
	err := c.fleet().do(ctx, http.MethodPost, "/servers", spec, &out)
	return out, err
}

// RemoveServer removes a member; purge deletes its state directory too.
func (c *Client) RemoveServer(ctx context.Context, id string, purge bool) error {
	p := "/servers/" + url.PathEscape(id)
	if purge {
		p += "?purge=true"
	}
	return c.fleet().do(ctx, http.MethodDelete, p, nil, nil)
}

// fleet addresses the fleet itself rather than one member.
func (c *Client) fleet() *Client {
	f := *c
	f.Member = ""
	return &f
}
