package redfish

import (
	"errors"
	"net/http"
	"time"
)

// Principal is who a request acts as, for another surface served beside
// Redfish on the same listener (the web UI) that logs in through Redfish
// sessions rather than keeping a login of its own.
type Principal struct {
	UserName  string
	AccountID int
	Role      string // RoleAdministrator, RoleOperator or RoleReadOnly
	// SessionID is the Redfish session the token belongs to ("" for Basic).
	SessionID string
	// PasswordChangeRequired: the account may do nothing but change its
	// password (DSP0266 clause 13.2.7).
	PasswordChangeRequired bool
}

// ErrNotAuthenticated: no credentials, a token that names no live
// session, or a wrong user name or password (a locked account looks the
// same, as it does to Redfish clients).
var ErrNotAuthenticated = errors.New("redfish: no valid session or credentials")

// BlockedError: Basic credentials came from an address that is blocked
// for repeated failed logins; RetryAfter is when to try again.
type BlockedError struct{ RetryAfter time.Duration }

func (e *BlockedError) Error() string {
	return "redfish: login attempts from this address are refused for a while after repeated failed logins"
}

// Authenticate resolves r's credentials exactly as the Redfish service h
// (from New) does for its own resources: an X-Auth-Token session token,
// else HTTP Basic, checked against the account store with its lockout and
// per-address blocking. A surface that uses it therefore needs no login of
// its own and cannot be a way around either.
func Authenticate(h http.Handler, r *http.Request) (Principal, error) {
	hh, ok := h.(*handler)
	if !ok {
		return Principal{}, errors.New("redfish: Authenticate needs the handler New returned")
	}
	p, err := hh.svc.authenticateRequest(r)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusServiceUnavailable {
			return Principal{}, &BlockedError{RetryAfter: ae.retryAfter}
		}
		return Principal{}, ErrNotAuthenticated
	}
	return Principal{UserName: p.user, AccountID: p.accountID, Role: p.role, SessionID: p.sessionID,
		PasswordChangeRequired: p.passwordChangeRequired}, nil
}
