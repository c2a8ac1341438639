// Package webui is the BMC's web interface: a live view of the simulated
// board (sockets, channels, slots with their LEDs, health and temperature,
// the in-band OS's NUMA nodes and memory blocks, RAS state, on a board
// with CXL host bridges the CXL windows, slots and IOMMU, the SEL and the
// platform's event stream) with buttons for the physical actions, served
// under Prefix on the same listeners as Redfish, as a real BMC serves its
// web UI beside its Redfish service.
//
// It only wires and serves. The page is plain HTML, CSS and JavaScript
// embedded in the binary (no CDN, no build step). Logging in is a Redfish
// session (POST /redfish/v1/SessionService/Sessions; the page keeps the
// X-Auth-Token), so the account store's lockout, per-address blocking and
// session limits apply unchanged. The board's JSON is the control API's
// own (platform/control), handed requests under Prefix+"/api"+control.Prefix
// once this package has checked the session and the role: every role may
// read, only administrators may act, the control API's rule for the
// physical world. Live updates are the platform's event stream as
// server-sent events (stream.go).
package webui

import (
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/accounts"
	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/redfish"
)

// Prefix is where the UI is mounted.
const Prefix = "/ui"

// apiPrefix is where its JSON lives.
const apiPrefix = Prefix + "/api"

//go:embed static
var staticFiles embed.FS

// Authenticator resolves a request's credentials to an account, as
// redfish.Authenticate does.
type Authenticator func(r *http.Request) (redfish.Principal, error)

// Board is the simulated server's state, for the health summary.
type Board interface {
	Snapshot() *platform.Snapshot
}

// Config wires one BMC's UI.
type Config struct {
	Authenticate Authenticator
	// Control is the BMC's control API handler; requests reach it marked
	// control.Preauthorized after this package has checked them.
	Control http.Handler
	Board   Board
	Events  Events
	SEL     SEL
	// CXL is the board's CXL side, watched by the stream (nil: the board
	// has none).
	CXL    CXL
	Logger *slog.Logger
	// MaxStreams bounds the live streams open at once (0: 16).
	MaxStreams int
	// SessionCheck is how often a stream looks its session up again
	// (0: 15 s).
	SessionCheck time.Duration
}

type ui struct {
	cfg     Config
	log     *slog.Logger
	static  http.Handler
	streams atomic.Int64
}

// New returns the handler for everything under Prefix.
func New(cfg Config) (http.Handler, error) {
	if cfg.Authenticate == nil || cfg.Control == nil || cfg.Board == nil || cfg.Events == nil || cfg.SEL == nil {
		return nil, errors.New("webui: Authenticate, Control, Board, Events and SEL are required")
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 16
	}
	if cfg.SessionCheck <= 0 {
		cfg.SessionCheck = keepalive
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ui{cfg: cfg, log: log, static: staticHandler()}, nil
}

func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return http.StripPrefix(Prefix, http.FileServerFS(sub))
}

// setPageHeaders keeps the page to its own origin: no script, style or
// connection from anywhere else, and no framing (clickjacking of the
// action buttons).
func setPageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
}

func (u *ui) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == Prefix:
		http.Redirect(w, r, Prefix+"/", http.StatusMovedPermanently)
	case p == apiPrefix || strings.HasPrefix(p, apiPrefix+"/"):
		u.api(w, r, strings.TrimPrefix(p, apiPrefix))
	default:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			fail(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" is not supported on "+p)
			return
		}
		serveStatic(w, r, u.static)
	}
}

// serveStatic serves the embedded page. A path that is not UTF-8 names
// no file: fs.Sub refuses it as invalid, which http.FileServer would
// answer with a 500.
func serveStatic(w http.ResponseWriter, r *http.Request, static http.Handler) {
	if !utf8.ValidString(r.URL.Path) {
		fail(w, http.StatusNotFound, "NotFound", "no such file")
		return
	}
	setPageHeaders(w.Header())
	static.ServeHTTP(w, r)
}

// Me is the answer of GET /ui/api/me: who is logged in and what the page
// may offer them.
type Me struct {
	UserName string `json:"user_name"`
	Role     string `json:"role"`
	// Session is the Redfish session's URI ("" for Basic), which the page
	// deletes to log out.
	Session string `json:"session,omitempty"`
	// CanAct: the account may use the physical actions.
	CanAct bool `json:"can_act"`
}

// mayAct is the policy for the physical world, the control API's own:
// administrators only.
func mayAct(role string) bool { return role == accounts.RoleAdministrator }

func (u *ui) api(w http.ResponseWriter, r *http.Request, rest string) {
	w.Header().Set("Cache-Control", "no-store")
	who, ok := u.login(w, r)
	if !ok {
		return
	}
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case rest == "/me" && read:
		me := Me{UserName: who.UserName, Role: who.Role, CanAct: mayAct(who.Role)}
		if who.SessionID != "" {
			me.Session = "/redfish/v1/SessionService/Sessions/" + who.SessionID
		}
		writeJSON(w, http.StatusOK, me)
	case rest == "/summary" && read:
		writeJSON(w, http.StatusOK, Summarize(u.cfg.Board.Snapshot()))
	case rest == "/stream" && r.Method == http.MethodGet: // HEAD would hold a stream with no body to send
		u.stream(w, r, who)
	case rest == control.Prefix || strings.HasPrefix(rest, control.Prefix+"/"):
		if !read && !mayAct(who.Role) {
			u.log.Info("webui: action refused: insufficient privilege", "user", who.UserName, "role", who.Role, "method", r.Method, "path", r.URL.Path)
			fail(w, http.StatusForbidden, "InsufficientPrivilege", "the physical actions need the Administrator role; "+who.UserName+" is "+who.Role)
			return
		}
		r2 := control.Preauthorized(r.Clone(r.Context()))
		r2.URL.Path = rest
		r2.URL.RawPath = ""
		u.cfg.Control.ServeHTTP(w, r2)
	case rest == "/me" || rest == "/summary" || rest == "/stream":
		fail(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" is not supported on "+r.URL.Path)
	default:
		fail(w, http.StatusNotFound, "NotFound", "no such resource: "+r.URL.Path)
	}
}

// login authenticates r through the Redfish account store and answers
// the refusal itself.
func (u *ui) login(w http.ResponseWriter, r *http.Request) (redfish.Principal, bool) {
	who, err := u.cfg.Authenticate(r)
	var blocked *redfish.BlockedError
	switch {
	case errors.As(err, &blocked):
		w.Header().Set("Retry-After", strconv.Itoa(int((blocked.RetryAfter+999_999_999)/1e9)))
		fail(w, http.StatusServiceUnavailable, "AddressBlocked", blocked.Error())
		return who, false
	case err != nil:
		// No WWW-Authenticate: a browser would pop up its own Basic
		// dialog instead of letting the page show its login form.
		fail(w, http.StatusUnauthorized, "NoValidSession", "log in first: POST /redfish/v1/SessionService/Sessions and send X-Auth-Token")
		return who, false
	case who.PasswordChangeRequired:
		fail(w, http.StatusForbidden, "PasswordChangeRequired", "the account's password must be changed first (Redfish AccountService)")
		return who, false
	}
	return who, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fail answers in the control API's error form, which the page reads for
// every API call alike.
func fail(w http.ResponseWriter, status int, code, msg string) {
	var e control.Error
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}
