package webui

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Member is one fleet member as the grid shows it.
type Member struct {
	ID      string
	Address string
	// UI are the member's own web UIs (each member serves the board view
	// under Prefix on its Redfish listeners, with its own accounts).
	UI    []string
	Board Board
}

// FleetConfig wires the fleet grid, which the fleet's control listener
// serves: only it knows every member, and its operator's credentials
// (serve --user/--password) are the ones that guard membership.
type FleetConfig struct {
	Members func() []Member
	// Authorized checks the fleet's own credentials (HTTP Basic).
	Authorized func(r *http.Request) bool
	Logger     *slog.Logger
	// MaxStreams bounds the grids open at once (0: 8).
	MaxStreams int
}

type fleetUI struct {
	cfg     FleetConfig
	log     *slog.Logger
	static  http.Handler
	streams atomic.Int64
}

// MemberView is one cell of the grid.
type MemberView struct {
	ID      string   `json:"id"`
	Address string   `json:"address"`
	UI      []string `json:"ui"`
	Summary Summary  `json:"summary"`
}

// fleetPoll is how often a connected grid looks at every member. The
// members push nothing to the grid: a member costs the grid one snapshot
// read per poll while a browser watches, and nothing otherwise.
const fleetPoll = time.Second

// NewFleet returns the handler for everything under Prefix on the
// fleet's control listener.
func NewFleet(cfg FleetConfig) (http.Handler, error) {
	if cfg.Members == nil || cfg.Authorized == nil {
		return nil, fmt.Errorf("webui: fleet grid needs Members and Authorized")
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 8
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &fleetUI{cfg: cfg, log: log, static: staticHandler()}, nil
}

func (f *fleetUI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case p == Prefix:
		http.Redirect(w, r, Prefix+"/", http.StatusMovedPermanently)
	case p == apiPrefix || strings.HasPrefix(p, apiPrefix+"/"):
		w.Header().Set("Cache-Control", "no-store")
		if !f.cfg.Authorized(r) {
			// No WWW-Authenticate: the page shows its own login form.
			fail(w, http.StatusUnauthorized, "Unauthorized", "the fleet's credentials are required (HTTP Basic: serve --user/--password)")
			return
		}
		switch {
		case p == apiPrefix+"/fleet" && read:
			writeJSON(w, http.StatusOK, f.views())
		case p == apiPrefix+"/fleet/stream" && r.Method == http.MethodGet:
			f.stream(w, r)
		default:
			fail(w, http.StatusNotFound, "NotFound", "no such resource: "+p+" (a member's board is at its own address, under "+Prefix+"/)")
		}
	case !read:
		fail(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" is not supported on "+p)
	default:
		if p == Prefix+"/" {
			// The control listener's page is the grid, not one board.
			r2 := r.Clone(r.Context())
			r2.URL.Path = Prefix + "/fleet.html"
			r = r2
		}
		serveStatic(w, r, f.static)
	}
}

func (f *fleetUI) views() []MemberView {
	ms := f.cfg.Members()
	out := make([]MemberView, len(ms))
	for i, m := range ms {
		out[i] = MemberView{ID: m.ID, Address: m.Address, UI: m.UI, Summary: Summarize(m.Board.Snapshot())}
	}
	return out
}

// stream serves GET /ui/api/fleet/stream: "members" (every member) at
// once, then "member" for each member whose state changed (its snapshot
// generation moved) and "removed" for each that left, polled every
// fleetPoll while the browser stays.
func (f *fleetUI) stream(w http.ResponseWriter, r *http.Request) {
	if n := f.streams.Add(1); n > int64(f.cfg.MaxStreams) {
		f.streams.Add(-1)
		w.Header().Set("Retry-After", "5")
		fail(w, http.StatusServiceUnavailable, "TooManyStreams", fmt.Sprintf("at most %d fleet grids at once", f.cfg.MaxStreams))
		return
	}
	defer f.streams.Add(-1)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		return err == nil
	}
	flush := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		return rc.Flush() == nil
	}
	seen := map[string]uint64{}
	views := f.views()
	for _, v := range views {
		seen[v.ID] = v.Summary.Generation
	}
	if !send("members", views) || !flush() {
		return
	}
	tick := time.NewTicker(fleetPoll)
	defer tick.Stop()
	quiet := 0
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
		wrote := false
		now := map[string]bool{}
		for _, v := range f.views() {
			now[v.ID] = true
			if g, ok := seen[v.ID]; ok && g == v.Summary.Generation {
				continue
			}
			seen[v.ID] = v.Summary.Generation
			if !send("member", v) {
				return
			}
			wrote = true
		}
		for id := range seen {
			if !now[id] {
				delete(seen, id)
				if !send("removed", map[string]string{"id": id}) {
					return
				}
				wrote = true
			}
		}
		if quiet++; !wrote && quiet*int(fleetPoll) >= int(keepalive) {
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
			wrote = true
		}
		if wrote {
			quiet = 0
			if !flush() {
				return
			}
		}
	}
}
