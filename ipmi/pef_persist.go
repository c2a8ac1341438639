package ipmi

import (
	"errors"
	"fmt"

	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform/store"
)

// pefFile is the PEF and LAN-alert configuration's name under
// Config.StateDir. A real BMC keeps both in flash: an alert destination set
// with `ipmitool lan alert set` must still be there after the BMC restarts.
const pefFile = "pef.json"

// pefState is the durable part of the PEF configuration (Table 30-6 and the
// LAN alert parameters 16-19); runtime state such as the postpone timer,
// the last processed event IDs and pending acknowledgements is not kept.
type pefState struct {
	Control   byte                               `json:"control"`
	Actions   byte                               `json:"actions"`
	Startup   [2]byte                            `json:"startup"`
	Filters   [pefEntries][filterSize]byte       `json:"filters"`
	Policies  [alertPolicies][3]byte             `json:"policies"`
	GUID      [17]byte                           `json:"guid"`
	StrKeys   [alertStrings][2]byte              `json:"string_keys"`
	Strs      [alertStrings][]byte               `json:"strings"`
	Community [18]byte                           `json:"community"`
	Dests     [alertDestinations + 1]destination `json:"destinations"`
}

type destination struct {
	Type    byte    `json:"type"`
	Timeout byte    `json:"timeout"`
	Retries byte    `json:"retries"`
	Format  byte    `json:"format"`
	Gateway byte    `json:"gateway"`
	IP      [4]byte `json:"ip"`
	MAC     [6]byte `json:"mac"`
}

// stateLocked copies the durable configuration; p.mu must be held.
func (p *pef) stateLocked() pefState {
	st := pefState{Control: p.control, Actions: p.actions, Startup: p.startup, Filters: p.filters,
		Policies: p.policies, GUID: p.guid, StrKeys: p.strKeys, Community: p.community}
	for i, s := range p.strs {
		st.Strs[i] = append([]byte(nil), s...)
	}
	for i, d := range p.dests {
		st.Dests[i] = destination{d.typ, d.timeout, d.retries, d.format, d.gateway, d.ip, d.mac}
	}
	return st
}

// restoreLocked installs st; p.mu must be held.
func (p *pef) restoreLocked(st pefState) {
	p.control, p.actions, p.startup, p.filters = st.Control, st.Actions, st.Startup, st.Filters
	p.policies, p.guid, p.strKeys, p.community = st.Policies, st.GUID, st.StrKeys, st.Community
	for i, s := range st.Strs {
		p.strs[i] = append([]byte(nil), s...)
	}
	for i, d := range st.Dests {
		p.dests[i] = alertDest{typ: d.Type, timeout: d.Timeout, retries: d.Retries, format: d.Format, gateway: d.Gateway, ip: d.IP, mac: d.MAC}
	}
}

// load restores the saved configuration, if any, from path and keeps
// saving there from now on.
func (p *pef) load(path string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.path = path
	doc := store.JSON{Path: path}
	// An interrupted save leaves a temporary file; pef.json is still the
	// last acknowledged configuration.
	removed, err := doc.RemoveStaleTemps()
	if err != nil {
		return fmt.Errorf("PEF configuration: %w", err)
	}
	if len(removed) > 0 {
		p.log.Warn("removed temporary files an interrupted save left", "files", removed)
	}
	var st pefState
	if err := doc.Load(&st); err != nil {
		if errors.Is(err, store.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("PEF configuration: %w", err)
	}
	p.restoreLocked(st)
	return nil
}

// commitLocked applies a configuration change durably: change runs, and
// when it succeeds the new configuration is saved before the command is
// acknowledged; if the save fails the change is undone and the requester
// gets an error, so memory and flash never disagree. p.mu must be held.
func (p *pef) commitLocked(change func() types.CompletionCode) types.CompletionCode {
	prev := p.stateLocked()
	cc := change()
	if cc != types.CodeOK || p.path == "" {
		return cc
	}
	if err := (store.JSON{Path: p.path}).Save(p.stateLocked()); err != nil {
		p.restoreLocked(prev)
		p.log.Error("PEF configuration not saved; change undone", "err", err)
		return types.CodeUnspecifiedError
	}
	return cc
}
