package mockups

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
)

// DefaultMaxResources bounds a crawl when Client.MaxResources is zero. It
// is far above any real BMC (a large server is a few thousand resources)
// and low enough that a service generating links without end is caught
// before it fills the disk.
const DefaultMaxResources = 10000

// maxBody bounds one response; Redfish resources are kilobytes, and a
// runaway body must not exhaust memory.
const maxBody = 32 << 20

// ErrTooManyResources is wrapped by Crawl's error when the service has more
// resources than the client allows.
var ErrTooManyResources = errors.New("too many resources")

// Client reads a Redfish service over HTTP with Basic authentication.
type Client struct {
	BaseURL  string // e.g. http://127.0.0.1:8000; may carry a path prefix
	User     string
	Password string
	HTTP     *http.Client // nil means a client with a 30s timeout per request
	// MaxResources bounds the crawl; zero means DefaultMaxResources.
	MaxResources int
}

// Crawl fetches /redfish and root ("/redfish/v1" when empty), then every
// resource reachable from them through @odata.id references anywhere in a
// payload that lie at or under root. Links answered with 404 or 405 are
// skipped, because real services advertise resources they do not
// implement; any other failure stops the crawl, since a silently partial
// mockup would make later diffs lie.
//
// Resources are fetched one at a time: BMCs are small embedded systems and
// many misbehave under concurrent load.
func Crawl(ctx context.Context, c *Client, root string) (Tree, error) {
	if c == nil {
		return nil, errors.New("mockups: crawl: nil client")
	}
	rootKey, err := crawlRoot(root)
	if err != nil {
		return nil, err
	}
	limit := c.MaxResources
	if limit <= 0 {
		limit = DefaultMaxResources
	}

	type pending struct{ key, target string }
	var queue []pending
	seen := map[string]bool{}
	tree := Tree{}
	enqueue := func(from, link string) error {
		key, target, ok := linkKey(link, rootKey)
		if !ok || seen[key] {
			return nil
		}
		if err := checkPath(key); err != nil {
			return fmt.Errorf("mockups: crawl: %s links to %w", from, err)
		}
		seen[key] = true
		queue = append(queue, pending{key, target})
		return nil
	}

	// The versions object is outside any root but belongs in every mockup.
	seen["/redfish"] = true
	queue = append(queue, pending{"/redfish", "/redfish"})
	// The service root is requested with its canonical trailing slash,
	// which some services insist on.
	rootTarget := rootKey
	if rootKey == "/redfish/v1" {
		rootTarget += "/"
	}
	seen[rootKey] = true
	queue = append(queue, pending{rootKey, rootTarget})

	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		body, found, err := c.get(ctx, p.target)
		if err != nil {
			return nil, fmt.Errorf("mockups: crawl: %w", err)
		}
		if !found {
			continue
		}
		if len(tree) >= limit {
			return nil, fmt.Errorf("mockups: crawl %s: more than %d resources (raise Client.MaxResources if the service really is this large): %w",
				c.BaseURL, limit, ErrTooManyResources)
		}
		tree[p.key] = body
		var doc any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			// get has already validated the body; this is unreachable
			// short of a bug, but must not pass silently.
			return nil, fmt.Errorf("mockups: crawl: decode %s: %w", p.key, err)
		}
		var walkErr error
		eachODataID(doc, func(link string) {
			if walkErr == nil {
				walkErr = enqueue(p.key, link)
			}
		})
		if walkErr != nil {
			return nil, walkErr
		}
	}
	return tree, nil
}

// crawlRoot validates and normalises Crawl's root argument.
func crawlRoot(root string) (string, error) {
	if root == "" {
		return "/redfish/v1", nil
	}
	key := strings.TrimRight(root, "/")
	if key != "/redfish/v1" && !strings.HasPrefix(key, "/redfish/v1/") {
		return "", fmt.Errorf("mockups: crawl root %q: must be /redfish/v1 or below it", root)
	}
	if err := checkPath(key); err != nil {
		return "", fmt.Errorf("mockups: crawl root: %w", err)
	}
	return key, nil
}

// linkKey turns an @odata.id into the Tree key and the request target, and
// reports whether it lies under root. The fragment names a part of a
// resource (…/Sensors#/Temperatures/0), not a resource of its own; a query
// asks for a view of a resource rather than naming one; neither belongs in
// a key. Only relative references are followed: DSP0266 requires
// @odata.id to be one, and an absolute URL could point at another host.
func linkKey(link, root string) (key, target string, ok bool) {
	if i := strings.IndexByte(link, '#'); i >= 0 {
		link = link[:i]
	}
	if i := strings.IndexByte(link, '?'); i >= 0 {
		link = link[:i]
	}
	if !strings.HasPrefix(link, "/") || strings.HasPrefix(link, "//") {
		return "", "", false
	}
	key = strings.TrimRight(link, "/")
	if key != root && !strings.HasPrefix(key, root+"/") {
		return "", "", false
	}
	return key, link, true
}

// eachODataID calls fn with every string-valued @odata.id in v, at any
// depth: Members, Links, Oem and plain nested objects all carry them.
// Object keys are visited in sorted order so the crawl order, and with it
// which error is reported first, is deterministic.
func eachODataID(v any, fn func(string)) {
	switch v := v.(type) {
	case map[string]any:
		if id, ok := v["@odata.id"].(string); ok {
			fn(id)
		}
		for _, k := range sortedKeys(v) {
			eachODataID(v[k], fn)
		}
	case []any:
		for _, e := range v {
			eachODataID(e, fn)
		}
	}
}

// get fetches one resource. found is false for the statuses Crawl skips.
func (c *Client) get(ctx context.Context, target string) (body json.RawMessage, found bool, err error) {
	u := strings.TrimRight(c.BaseURL, "/") + target
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-Version", "4.0")
	if c.User != "" || c.Password != "" {
		req.SetBasicAuth(c.User, c.Password)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, false, fmt.Errorf("GET %s: read body: %w", u, err)
	}
	if len(data) > maxBody {
		return nil, false, fmt.Errorf("GET %s: body larger than %d bytes", u, maxBody)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
		return nil, false, nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, false, fmt.Errorf("GET %s: %s (check the user and password)%s", u, resp.Status, redfishMessage(data))
	default:
		return nil, false, fmt.Errorf("GET %s: %s%s", u, resp.Status, redfishMessage(data))
	}
	doc, err := compact(data)
	if err != nil {
		return nil, false, fmt.Errorf("GET %s: response is not JSON (Content-Type %q): %w", u, resp.Header.Get("Content-Type"), err)
	}
	return doc, true, nil
}

// redfishMessage extracts the human-readable part of a Redfish error body
// (DSP0266 clause 9.6), which says far more than the status line.
func redfishMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Info    []struct {
				Message string `json:"Message"`
			} `json:"@Message.ExtendedInfo"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	msg := e.Error.Message
	if len(e.Error.Info) > 0 && e.Error.Info[0].Message != "" {
		msg = e.Error.Info[0].Message
	}
	if msg == "" {
		return ""
	}
	return ": " + msg
}
