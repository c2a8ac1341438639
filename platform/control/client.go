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
)

// Client calls the control API; `bmcemu ctl` is built on it.
type Client struct {
	BaseURL  string // e.g. http://127.0.0.1:8000
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
	u := strings.TrimRight(c.BaseURL, "/") + Prefix + path
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
