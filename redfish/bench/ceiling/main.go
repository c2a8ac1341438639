// Command ceiling is the benchmark's upper bound: a bare net/http handler
// that answers every request with one static body (the Memory member
// bmcemu serves, saved by run.sh), so the ratio to it measures what the
// Redfish pipeline costs over the HTTP stack itself.
//
// With -headers it also sends the header fields bmcemu sent with that
// body (curl -D's dump): net/http copies, sorts and writes every field
// of every response, so a ceiling with two fields leaves that cost in
// the gap, though DSP0266 asks for the fields and no pipeline can drop
// them. The ratio to this ceiling is what the pipeline itself costs.
//
// With -gin as well it serves the same through a gin engine with one
// route shaped like bmcemu's (two path parameters) and no middleware:
// the floor of any gin-based server sending those fields, Redfish or
// not. Between it and bmcemu lies what bmcemu itself does per request
// (authentication, privileges, the render cache, metrics, limits).
package main

import (
	"bufio"
	"flag"
	"log"
	"net/http"
	"net/textproto"
	"os"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	bodyFile := flag.String("body", "", "file whose bytes every response carries")
	hdrFile := flag.String("headers", "", "optional file of header fields (curl -D) every response also carries")
	viaGin := flag.Bool("gin", false, "serve through one gin route (GET /redfish/v1/Systems/:id/Memory/:mem) instead of a bare handler")
	flag.Parse()
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		log.Fatal(err)
	}
	size := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", size)
		_, _ = w.Write(body)
	})
	if *hdrFile != "" {
		hdr, err := readHeaders(*hdrFile)
		if err != nil {
			log.Fatal(err)
		}
		hdr.Set("Content-Type", "application/json; charset=utf-8")
		hdr.Set("Content-Length", size)
		h = func(w http.ResponseWriter, r *http.Request) {
			// The values are shared read-only, as bmcemu shares its
			// cached ones: what is left is net/http's cost.
			wh := w.Header()
			for k, v := range hdr {
				wh[k] = v
			}
			_, _ = w.Write(body)
		}
	}
	var root http.Handler = h
	if *viaGin {
		gin.SetMode(gin.ReleaseMode)
		e := gin.New()
		e.GET("/redfish/v1/Systems/:id/Memory/:mem", func(c *gin.Context) { h(c.Writer, c.Request) })
		root = e
	}
	log.Fatal(http.ListenAndServe(*addr, root))
}

// readHeaders reads a response head as curl -D writes it, without the
// fields net/http writes itself (Date) or that describe the connection.
func readHeaders(name string) (http.Header, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tp := textproto.NewReader(bufio.NewReader(f))
	if _, err := tp.ReadLine(); err != nil { // the status line
		return nil, err
	}
	m, err := tp.ReadMIMEHeader()
	if err != nil && len(m) == 0 {
		return nil, err
	}
	h := http.Header(m)
	for _, k := range []string{"Date", "Connection", "Keep-Alive", "Transfer-Encoding"} {
		h.Del(k)
	}
	for k, v := range h {
		for i := range v {
			v[i] = strings.TrimSpace(v[i])
		}
		h[k] = v
	}
	return h, nil
}
