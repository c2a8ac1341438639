package webui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bmcemu/bmcemu/platform"
	"github.com/bmcemu/bmcemu/platform/control"
	"github.com/bmcemu/bmcemu/platform/cxl"
	"github.com/bmcemu/bmcemu/platform/iommu"
	"github.com/bmcemu/bmcemu/platform/sel"
	"github.com/bmcemu/bmcemu/redfish"
)

// Events is the platform's event stream as a bounded ring of recent
// records (platform.Platform.EventsSince).
type Events interface {
	EventsSince(ctx context.Context, since uint64, max int, wait time.Duration) platform.EventPage
	LastEventSeq() uint64
}

// SEL is what the stream watches of the System Event Log.
type SEL interface {
	Info() sel.Info
	Get(id uint16) (sel.Record, uint16, error)
}

// Stream tuning. A stream holds no queue of its own: it reads the
// platform's ring (4096 records) at its own pace, so a browser that reads
// slowly costs one page of records, never a backlog. One that falls out of
// the ring is sent "resync" and skips to the present (the page reloads the
// board's state); one that stops reading is cut off after writeTimeout and
// reconnects.
const (
	pageRecords  = 128
	selPoll      = time.Second // how stale the SEL row count may be
	keepalive    = 15 * time.Second
	writeTimeout = 30 * time.Second
	maxRecent    = 1000 // ?recent=N: the last N records first
)

// SELState is the SEL as the stream reports it: the page refetches the
// SEL (Redfish LogService) when it changes.
type SELState struct {
	Entries int    `json:"entries"`
	LastID  uint16 `json:"last_id"`
	// Erased is the SEL clock at the last Clear (changes on a clear
	// that leaves the count where it was).
	Erased uint32 `json:"erased"`
}

func selState(s SEL) SELState {
	in := s.Info()
	st := SELState{Entries: in.Entries, Erased: in.LastErase}
	if in.Entries > 0 {
		if r, _, err := s.Get(0xFFFF); err == nil {
			st.LastID = r.ID()
		}
	}
	return st
}

// CXL is what the stream watches of a board's CXL side
// (platform.Platform.CXL); false when the board has none.
type CXL interface {
	CXL() (cxl.Status, bool)
}

// CXLState is the part of the CXL side that changes without a platform
// event: the IOMMU counters move with every DMA mapping a driver makes.
// The page reads the CXL side again when it changes.
type CXLState struct {
	IOMMU iommu.Counters `json:"iommu"`
}

func cxlState(c CXL) (CXLState, bool) {
	if c == nil {
		return CXLState{}, false
	}
	st, ok := c.CXL()
	return CXLState{IOMMU: st.IOMMU}, ok
}

// Hello opens every stream.
type Hello struct {
	LastSeq uint64   `json:"last_seq"`
	SEL     SELState `json:"sel"`
	// CXL is there on a board with CXL.
	CXL *CXLState `json:"cxl,omitempty"`
}

// Resync tells the page that records after its cursor were lost to the
// ring's bound: the board must be read again.
type Resync struct {
	From uint64 `json:"from"` // the first record the stream still had
}

// stream serves GET /ui/api/stream: text/event-stream with the events
// hello, platform (id: the record's Seq; data: control.EventRecord),
// resync, sel, cxl (CXLState) and logout (the session ended). ?since=SEQ or Last-Event-ID resumes after SEQ;
// ?recent=N starts with the last N records.
func (u *ui) stream(w http.ResponseWriter, r *http.Request, who redfish.Principal) {
	since := u.cfg.Events.LastEventSeq()
	if v := r.URL.Query().Get("recent"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > maxRecent {
			fail(w, http.StatusBadRequest, "InvalidValue", fmt.Sprintf("recent %q: want how many of the last records to start with, at most %d", v, maxRecent))
			return
		}
		since -= min(since, n)
	}
	for _, v := range []string{r.URL.Query().Get("since"), r.Header.Get("Last-Event-ID")} {
		if v == "" {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			fail(w, http.StatusBadRequest, "InvalidValue", fmt.Sprintf("since %q: want the unsigned sequence number of the last record seen", v))
			return
		}
		since = n
	}
	if n := u.streams.Add(1); n > int64(u.cfg.MaxStreams) {
		u.streams.Add(-1)
		w.Header().Set("Retry-After", "5")
		fail(w, http.StatusServiceUnavailable, "TooManyStreams", fmt.Sprintf("at most %d live views at once", u.cfg.MaxStreams))
		return
	}
	defer u.streams.Add(-1)

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event, id string, v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		if id != "" {
			_, err = fmt.Fprintf(w, "event: %s\nid: %s\ndata: %s\n\n", event, id, b)
		} else {
			_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		}
		return err == nil
	}
	flush := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		return rc.Flush() == nil
	}

	ctx := r.Context()
	selNow := selState(u.cfg.SEL)
	hello := Hello{LastSeq: since, SEL: selNow}
	cxlNow, hasCXL := cxlState(u.cfg.CXL)
	if hasCXL {
		hello.CXL = &cxlNow
	}
	if !send("hello", "", hello) || !flush() {
		return
	}
	lastWrite, lastAuth := time.Now(), time.Now()
	for {
		// A stream lives no longer than its session: logging out, an
		// expired or deleted session, or a deleted or disabled account
		// ends it. Looking the token up also counts as the session's use,
		// so an open page keeps its session as a polling UI would.
		if who.SessionID != "" && time.Since(lastAuth) >= u.cfg.SessionCheck {
			lastAuth = time.Now()
			if now, err := u.cfg.Authenticate(r); err != nil || now.SessionID != who.SessionID {
				_ = send("logout", "", struct{}{})
				_ = flush()
				return
			}
		}
		page := u.cfg.Events.EventsSince(ctx, since, pageRecords, selPoll)
		if ctx.Err() != nil {
			return
		}
		wrote := false
		if page.Truncated && len(page.Records) > 0 {
			if !send("resync", "", Resync{From: page.Records[0].Seq}) {
				return
			}
			wrote = true
		}
		for _, rec := range page.Records {
			if !send("platform", strconv.FormatUint(rec.Seq, 10), control.RecordOf(rec)) {
				return
			}
			since, wrote = rec.Seq, true
		}
		if s := selState(u.cfg.SEL); s != selNow {
			selNow = s
			if !send("sel", "", s) {
				return
			}
			wrote = true
		}
		if c, ok := cxlState(u.cfg.CXL); ok && c != cxlNow {
			cxlNow = c
			if !send("cxl", "", c) {
				return
			}
			wrote = true
		}
		if !wrote && time.Since(lastWrite) >= keepalive {
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
			wrote = true
		}
		if wrote {
			if !flush() {
				return
			}
			lastWrite = time.Now()
		}
	}
}
