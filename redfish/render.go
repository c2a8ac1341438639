package redfish

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bmcemu/bmcemu/platform"
)

// request is what a resource handler sees: one snapshot taken when the
// request arrived, so every property of a response describes the same
// instant even while the platform changes underneath.
type request struct {
	c    *gin.Context
	snap *platform.Snapshot
	// params are the URI parameters of a request that did not come
	// through the router ($expand, subscriptions); nil reads c.Params,
	// which saves building a map on every routed request.
	params map[string]string
	who    principal
	authed bool
	body   []byte
}

func (r *request) param(name string) string {
	if r.params != nil {
		return r.params[name]
	}
	return r.c.Param(name)
}

// getFunc builds the representation of one resource. It returns a value to
// encode as JSON, or an error: an *apiError for the client, anything else
// for the log.
type getFunc func(*request) (any, error)

// response is what a write handler answers.
type response struct {
	status   int
	body     any // nil: no body (204)
	location string
	headers  map[string]string
	// refetch: after a successful write the resource is re-read for the
	// ETag (and for the body when body is nil and status is 200).
	refetch bool
}

type writeFunc func(*request) (*response, error)

// resource is one URI template and what it supports.
type resource struct {
	entity     string // privilege registry entity
	under      string // entities above it, for SubordinateOverrides ("ComputerSystem/LogServiceCollection")
	get        getFunc
	patch      writeFunc
	post       writeFunc
	del        writeFunc
	public     bool                // GET/HEAD need no credentials
	publicPost bool                // POST needs no credentials (session login)
	self       func(*request) bool // is the target the caller's own account/session
	raw        func(*gin.Context)  // non-JSON GET ($metadata)
	// snapshotOnly: the representation depends on nothing but the
	// platform snapshot and the URI parameters, so serveGet may reuse
	// the encoded body and ETag until the snapshot's generation moves.
	snapshotOnly bool
	// etag overrides etagOf for a representation that holds a value which
	// changes without the resource changing (the Manager's clock).
	etag     func(body []byte) string
	allow    string   // computed
	allowHdr []string // computed: allow as a header value, shared by every response
	segs     []string // computed
}

// handle registers res at path for every method it implements.
func (s *service) handle(e *gin.Engine, path string, res resource) {
	r := &res
	r.segs = strings.Split(strings.TrimPrefix(path, "/"), "/")
	var methods []string
	// An action route has nothing to read: DSP0266 makes it a POST
	// target only, so GET there is 405 like any method it lacks.
	if r.get != nil || r.raw != nil {
		methods = append(methods, http.MethodGet, http.MethodHead)
	}
	if r.post != nil {
		methods = append(methods, http.MethodPost)
	}
	if r.patch != nil {
		methods = append(methods, http.MethodPatch)
	}
	if r.del != nil {
		methods = append(methods, http.MethodDelete)
	}
	r.allow = strings.Join(methods, ", ")
	r.allowHdr = []string{r.allow}
	s.resources = append(s.resources, r)
	for _, m := range methods {
		e.Handle(m, path, s.wrap(r, m))
	}
	if r.post != nil && strings.HasSuffix(r.entity, "Collection") {
		// DSP0266 9.6: POST to a collection's Members property is the
		// same create as POST to the collection. Only the route is added:
		// Members is not a resource of its own (GET on it stays an
		// unknown member), so match and the Allow header ignore it.
		e.Handle(http.MethodPost, path+"/Members", s.wrap(r, http.MethodPost))
	}
}

// match finds the resource for a path and its parameters.
func (s *service) match(path string) (*resource, map[string]string) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, r := range s.resources {
		if len(r.segs) != len(segs) {
			continue
		}
		params := map[string]string{}
		ok := true
		for i, p := range r.segs {
			if strings.HasPrefix(p, ":") {
				params[p[1:]] = segs[i]
			} else if p != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return r, params
		}
	}
	return nil, nil
}

// wrap is the one request pipeline: authentication, password-change gate,
// privileges, query parameters, preconditions, then the handler, then the
// headers DSP0266 asks of every response.
func (s *service) wrap(res *resource, method string) gin.HandlerFunc {
	g := grantsFor(res.under, res.entity, method)
	return func(c *gin.Context) {
		c.Writer.Header()["Allow"] = res.allowHdr
		req := &request{c: c}
		public := (method == http.MethodGet || method == http.MethodHead) && res.public ||
			method == http.MethodPost && res.publicPost
		if p, err := s.authenticate(c); err == nil {
			req.who, req.authed = p, true
			notePrincipal(c, p, res.raw != nil)
		} else if !public {
			c.Writer.Header().Del("Allow")
			s.fail(c, err)
			return
		}
		if !public {
			self := res.self != nil && res.self(req)
			if req.who.passwordChangeRequired && !passwordChangeAllowed(res, method, self) {
				s.fail(c, newAPIError(http.StatusForbidden, "PasswordChangeRequired", accountPath(req.who.accountID)))
				return
			}
			// The registry's PropertyOverrides let ConfigureSelf PATCH its
			// own Password; patchAccount refuses every other property.
			selfPassword := res.entity == "ManagerAccount" && method == http.MethodPatch && self &&
				hasPrivilege(req.who.role, privConfigureSelf)
			if !g.allow(req.who.role, res.under, res.entity, method, self) && !selfPassword {
				s.fail(c, errInsufficientPrivilege())
				return
			}
		}
		if method == http.MethodGet || method == http.MethodHead {
			// raw resources ($metadata, SSE, registry files) answer in their
			// own media types and judge Accept themselves.
			if res.raw == nil && !acceptsJSON(c.Request.Header[hdrAccept]) {
				s.fail(c, newAPIError(http.StatusNotAcceptable, "HeaderInvalid", "Accept: "+strings.Join(c.Request.Header[hdrAccept], ", ")))
				return
			}
			s.serveGet(req, res)
			return
		}
		if ct := c.Request.Header[hdrContentType]; len(ct) > 0 && c.Request.ContentLength != 0 && !isJSONMediaType(ct[0]) {
			s.fail(c, newAPIError(http.StatusUnsupportedMediaType, "HeaderInvalid", "Content-Type: "+ct[0]))
			return
		}
		for k := range c.Request.URL.Query() {
			if strings.HasPrefix(k, "$") || k == "only" {
				s.fail(c, newAPIError(http.StatusBadRequest, "QueryNotSupportedOnOperation"))
				return
			}
		}
		s.serveWrite(req, res, method)
	}
}

// isJSONMediaType reports whether a Content-Type names JSON, the only body
// this service reads (DSP0266: application/json, optionally with a
// charset). A request with a body but no Content-Type is still read as
// JSON, which is what every Redfish client sends; an explicit other type
// (curl -d's form encoding, XML) is refused with 415 rather than parsed
// as something it says it is not.
func isJSONMediaType(v string) bool {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil || mt != "application/json" {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

// acceptsJSON reports whether the Accept header values admit
// application/json: no header, */*, application/* or application/json,
// each with a non-zero quality (RFC 9110 clause 12.5.1).
func acceptsJSON(values []string) bool {
	if len(values) == 0 {
		return true
	}
	// What clients send (python-requests' */*, sushy's and redfishtool's
	// application/json) answers without parsing, which allocates.
	if len(values) == 1 {
		switch values[0] {
		case "*/*", "application/json", "application/json;charset=utf-8":
			return true
		}
	}
	for _, v := range values {
		for r := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(r) == "" {
				continue
			}
			mt, params, err := mime.ParseMediaType(r)
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			if mt == "*/*" || mt == "application/*" || mt == "application/json" {
				return true
			}
		}
	}
	return false
}

// passwordChangeAllowed lists what an account that must change its
// password may still do (DSP0266 clause 13.2.7): read and PATCH its own
// account, and log out.
func passwordChangeAllowed(res *resource, method string, self bool) bool {
	switch res.entity {
	case "ManagerAccount":
		return self && (method == http.MethodGet || method == http.MethodHead || method == http.MethodPatch)
	case "Session":
		return self && method == http.MethodDelete
	}
	return false
}

func (s *service) serveGet(req *request, res *resource) {
	c := req.c
	if res.raw != nil {
		res.raw(c)
		return
	}
	// Most requests have no query; skip parsing (and its allocations) then.
	var q *query
	if c.Request.URL.RawQuery != "" {
		var err error
		if q, err = parseQuery(c.Request.URL); err != nil {
			s.fail(c, err)
			return
		}
	}
	req.snap = s.platform.Snapshot()
	r, err := s.renderGet(req, res)
	if err != nil {
		s.fail(c, err)
		return
	}
	if q != nil && !q.empty() {
		out, memberETag, err := s.applyQuery(req, r.body, q)
		if err != nil {
			s.fail(c, err)
			return
		}
		etag := r.etag
		if memberETag != "" {
			etag = memberETag
		}
		body, err := encodeJSON(out)
		if err != nil {
			s.fail(c, err)
			return
		}
		r = newRendered(body, etag)
	}
	h := c.Writer.Header()
	h[hdrETag] = r.hdr.etag
	if inm := h1(c.Request.Header, hdrIfNoneMatch); inm != "" && etagListMatches(inm, r.etag, true) {
		setCommonHeaders(h, r.hdr.link)
		c.Status(http.StatusNotModified)
		c.Writer.WriteHeaderNow()
		return
	}
	s.writeRendered(c, http.StatusOK, ctJSON, r)
}

// h1 is the first value of a request header by its canonical key. Unlike
// Header.Get it does not canonicalise the key on every call.
func h1(h http.Header, canonicalKey string) string {
	if v := h[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// rendered is an encoded payload with its ETag and the header values
// derived from it. The value slices go into response header maps as they
// are, so a cached rendering costs no header allocations; nothing may
// modify them.
type rendered struct {
	body []byte
	etag string
	hdr  *bodyHeaders
}

type bodyHeaders struct {
	etag   []string
	link   []string // nil: the payload has no schema to link
	length []string
}

func newRendered(body []byte, etag string) rendered {
	hdr := &bodyHeaders{etag: []string{etag}, length: []string{strconv.Itoa(len(body))}}
	if l := schemaLink(body); l != "" {
		hdr.link = []string{l}
	}
	return rendered{body: body, etag: etag, hdr: hdr}
}

// renderGet encodes the resource and its ETag, from the render cache when
// the resource allows it and the snapshot has not moved.
func (s *service) renderGet(req *request, res *resource) (rendered, error) {
	var keyBuf [128]byte
	var key []byte
	if res.snapshotOnly {
		key = paramsKey(keyBuf[:0], req.c.Params)
		if e, ok := s.renders.get(res, key, req.snap.Generation); ok {
			return e.rendered, nil
		}
	}
	v, err := res.get(req)
	if err != nil {
		return rendered{}, err
	}
	body, err := encodeJSON(v)
	if err != nil {
		return rendered{}, err
	}
	r := newRendered(body, res.etagFor(body))
	if res.snapshotOnly {
		s.renders.put(res, string(key), renderEntry{gen: req.snap.Generation, rendered: r})
	}
	return r, nil
}

// paramsKey appends the URI parameters to dst as a cache key. The caller
// passes a stack buffer and looks the key up as string(key), which Go
// does without allocating, so a cache hit costs no garbage.
func paramsKey(dst []byte, ps gin.Params) []byte {
	for _, p := range ps {
		dst = append(dst, p.Value...)
		dst = append(dst, '/')
	}
	return dst
}

// renderCache keeps the last encoding of snapshot-only resources, per
// resource and URI parameters. Bodies are shared read-only between
// requests. A hit reads a published map and takes no lock: a read lock's
// counter would be written by every request, and that one cache line
// bouncing between the cores serving GETs costs more than the lookup. A
// miss copies the map under mu and publishes the copy; misses come once
// per resource and parameters each time the snapshot's generation moves.
type renderCache struct {
	mu sync.Mutex // serialises puts
	m  atomic.Pointer[map[*resource]map[string]renderEntry]
	n  int
}

type renderEntry struct {
	gen uint64
	rendered
}

// maxRenders bounds the cache; only existing resources get in, so it is
// reached only through odd spellings of their URIs, and then it restarts.
const maxRenders = 1024

func (c *renderCache) get(res *resource, params []byte, gen uint64) (renderEntry, bool) {
	m := c.m.Load()
	if m == nil {
		return renderEntry{}, false
	}
	e, ok := (*m)[res][string(params)]
	return e, ok && e.gen == gen
}

func (c *renderCache) put(res *resource, params string, e renderEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next map[*resource]map[string]renderEntry
	if old := c.m.Load(); old == nil || c.n >= maxRenders {
		next, c.n = make(map[*resource]map[string]renderEntry), 0
	} else {
		next = maps.Clone(*old)
	}
	old, ok := next[res][params]
	if ok && old.gen > e.gen {
		return
	}
	if !ok {
		c.n++
	}
	m := maps.Clone(next[res])
	if m == nil {
		m = make(map[string]renderEntry)
	}
	m[params] = e
	next[res] = m
	c.m.Store(&next)
}

// maxBody bounds request bodies; no Redfish request this service takes is
// anywhere near it.
const maxBody = 64 << 10

func (s *service) serveWrite(req *request, res *resource, method string) {
	c := req.c
	req.snap = s.platform.Snapshot()
	// Preconditions apply to the target resource: PATCH and DELETE.
	if method != http.MethodPost && res.get != nil {
		im := c.GetHeader("If-Match")
		if im == "" && s.requireIfMatch && method == http.MethodPatch {
			s.fail(c, newAPIError(http.StatusPreconditionRequired, "PreconditionRequired"))
			return
		}
		if im != "" {
			cur, err := res.get(req)
			if err != nil {
				s.fail(c, err)
				return
			}
			b, err := encodeJSON(cur)
			if err != nil {
				s.fail(c, err)
				return
			}
			if !etagListMatches(im, res.etagFor(b), false) {
				s.fail(c, newAPIError(http.StatusPreconditionFailed, "PreconditionFailed"))
				return
			}
		}
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxBody+1))
	if err != nil {
		s.fail(c, newAPIError(http.StatusBadRequest, "MalformedJSON"))
		return
	}
	if len(body) > maxBody {
		s.fail(c, newAPIError(http.StatusRequestEntityTooLarge, "GeneralError"))
		return
	}
	req.body = body
	var fn writeFunc
	switch method {
	case http.MethodPatch:
		fn = res.patch
	case http.MethodPost:
		fn = res.post
	case http.MethodDelete:
		fn = res.del
	}
	out, err := fn(req)
	if err != nil {
		s.fail(c, err)
		return
	}
	for k, v := range out.headers {
		c.Header(k, v)
	}
	if out.location != "" {
		c.Header("Location", out.location)
	}
	if out.refetch && res.get != nil {
		req.snap = s.platform.Snapshot()
		if cur, err := res.get(req); err == nil {
			if b, err := encodeJSON(cur); err == nil {
				c.Header("ETag", res.etagFor(b))
				if out.body == nil && out.status == http.StatusOK {
					s.write(c, out.status, "application/json; charset=utf-8", b)
					return
				}
			}
		}
	}
	s.respond(c, out)
}

// respond writes a write operation's answer (or a finished task's, which
// is the same answer): its body, or the status alone.
func (s *service) respond(c *gin.Context, out *response) {
	if out.body == nil {
		c.Header("OData-Version", "4.0")
		c.Status(out.status)
		c.Writer.WriteHeaderNow()
		return
	}
	s.render(c, out.status, out.body)
}

func (res *resource) etagFor(body []byte) string {
	if res.etag != nil {
		return res.etag(body)
	}
	return etagOf(body)
}

// etagOf is a strong validator: the payload's own hash, so it changes
// exactly when the representation does.
func etagOf(body []byte) string {
	h := sha256.Sum256(body)
	return `"` + hex.EncodeToString(h[:12]) + `"`
}

// etagListMatches compares an If-Match/If-None-Match list with etag.
// If-None-Match uses the weak comparison, If-Match the strong one
// (RFC 9110 clause 13.1).
func etagListMatches(list, etag string, weak bool) bool {
	for t := range strings.SplitSeq(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		if weak {
			t = strings.TrimPrefix(t, "W/")
			if t == strings.TrimPrefix(etag, "W/") {
				return true
			}
			continue
		}
		if t == etag && !strings.HasPrefix(t, "W/") {
			return true
		}
	}
	return false
}

// render writes v as the response.
func (s *service) render(c *gin.Context, code int, v any) {
	body, err := encodeJSON(v)
	if err != nil {
		s.log.Error("redfish: encode response", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
		code = http.StatusInternalServerError
		// errorBody has only strings; encoding it cannot fail.
		body, _ = encodeJSON(errInternal().body())
	}
	s.write(c, code, "application/json; charset=utf-8", body)
}

// Canonical header keys (as textproto.CanonicalMIMEHeaderKey spells them),
// so the hot path indexes header maps directly instead of canonicalising
// the key, and allocating for "OData-Version", on every call.
const (
	hdrODataVersion  = "Odata-Version"
	hdrCacheControl  = "Cache-Control"
	hdrLink          = "Link"
	hdrETag          = "Etag"
	hdrContentType   = "Content-Type"
	hdrAccept        = "Accept"
	hdrContentLen    = "Content-Length"
	hdrIfNoneMatch   = "If-None-Match"
	hdrAuthToken     = "X-Auth-Token"
	hdrAuthorization = "Authorization"
)

// Header values every response shares. Full slice expressions cap them so
// an Add elsewhere copies instead of writing into the shared array.
var (
	hvODataVersion = []string{"4.0"}[:1:1]
	hvNoCache      = []string{"no-cache"}[:1:1]
	ctJSON         = []string{"application/json; charset=utf-8"}[:1:1]
)

// setCommonHeaders sets what DSP0266 asks of every response: OData-Version,
// Cache-Control and, for a typed resource, the Link to its schema.
func setCommonHeaders(h http.Header, link []string) {
	h[hdrODataVersion] = hvODataVersion
	h[hdrCacheControl] = hvNoCache
	if link != nil {
		h[hdrLink] = link
	}
}

// schemaLink derives the describedby Link from the payload's @odata.type:
// the DMTF-published JSON schema of exactly that version.
func schemaLink(body []byte) string {
	const key = `"@odata.type":"#`
	i := bytes.Index(body, []byte(key))
	if i < 0 || i > 256 {
		return ""
	}
	rest := body[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	t := string(rest[:j])
	k := strings.LastIndex(t, ".")
	if k <= 0 || strings.HasPrefix(t, "Message.") {
		return ""
	}
	return "<" + schemaURI + t[:k] + ".json>; rel=describedby"
}

const schemaURI = "http://redfish.dmtf.org/schemas/v1/"

func (s *service) write(c *gin.Context, code int, contentType string, body []byte) {
	ct := ctJSON
	if contentType != ctJSON[0] {
		ct = []string{contentType}
	}
	r := rendered{body: body, hdr: &bodyHeaders{length: []string{strconv.Itoa(len(body))}}}
	if l := schemaLink(body); l != "" {
		r.hdr.link = []string{l}
	}
	s.writeRendered(c, code, ct, r)
}

// writeRendered writes r with the headers of every response; r.hdr.etag
// is left to the caller, which knows whether the response has one.
func (s *service) writeRendered(c *gin.Context, code int, contentType []string, r rendered) {
	h := c.Writer.Header()
	h[hdrContentType] = contentType
	setCommonHeaders(h, r.hdr.link)
	h[hdrContentLen] = r.hdr.length
	c.Status(code)
	if c.Request.Method == http.MethodHead {
		c.Writer.WriteHeaderNow()
		return
	}
	body := r.body
	if _, err := c.Writer.Write(body); err != nil {
		// The client went away; nothing left to tell it.
		s.log.Debug("redfish: write response", "path", c.Request.URL.Path, "err", err)
	}
}

func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Resource URIs and messages must reach clients as written, not as \u0026.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return buf.Bytes(), nil
}

// decodeTree turns an encoded payload into a generic tree for the query
// options, keeping numbers exact.
func decodeTree(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode own payload: %w", err)
	}
	return m, nil
}

// fail answers with the error body for err and stops the handler chain.
// Errors that are not *apiError are logged and hidden behind InternalError.
func (s *service) fail(c *gin.Context, err error) {
	ae, ok := asAPIError(err)
	if !ok {
		s.log.Error("redfish: request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
		ae = errInternal()
	}
	if ae.status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Basic realm="`+realm+`", charset="UTF-8"`)
	}
	if ae.retryAfter > 0 {
		c.Header("Retry-After", strconv.FormatInt(int64(ae.retryAfter/time.Second), 10))
	}
	c.Writer.Header().Del("ETag")
	s.render(c, ae.status, ae.body())
	c.Abort()
}
