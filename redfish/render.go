package redfish

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/bmcemu/bmcemu/platform"
)

// request is what a resource handler sees: one snapshot taken when the
// request arrived, so every property of a response describes the same
// instant even while the platform changes underneath.
type request struct {
	c    *gin.Context
	snap *platform.Snapshot
}

func (r *request) param(name string) string { return r.c.Param(name) }

// getFunc builds the representation of one resource. It returns a value to
// encode as JSON, or an error: an *apiError for the client, anything else
// for the log.
type getFunc func(*request) (any, error)

// get registers a read handler for path. HEAD is served by the same code so
// its headers always match GET's.
func (s *service) get(g *gin.RouterGroup, path string, fn getFunc) {
	h := func(c *gin.Context) {
		if err := checkQuery(c.Request); err != nil {
			s.fail(c, err)
			return
		}
		v, err := fn(&request{c: c, snap: s.platform.Snapshot()})
		if err != nil {
			s.fail(c, err)
			return
		}
		s.render(c, http.StatusOK, v)
	}
	g.GET(path, h)
	g.HEAD(path, h)
}

// checkQuery enforces DSP0266 clause 7.3: an unsupported parameter that
// starts with '$' is refused with 501, any other unknown one is ignored.
// When $expand, $select and friends arrive they are removed from here.
func checkQuery(r *http.Request) error {
	for k := range r.URL.Query() {
		if strings.HasPrefix(k, "$") {
			return errQueryParameterUnsupported(k)
		}
	}
	return nil
}

// render writes v as the response. It is the one place that sets the
// headers DSP0266 asks of every JSON response, so new resources (and later
// ETags) get them without each handler remembering.
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

func (s *service) write(c *gin.Context, code int, contentType string, body []byte) {
	h := c.Writer.Header()
	h.Set("Content-Type", contentType)
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.Status(code)
	if c.Request.Method == http.MethodHead {
		c.Writer.WriteHeaderNow()
		return
	}
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
	s.render(c, ae.status, ae.body())
	c.Abort()
}
