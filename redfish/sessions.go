package redfish

import (
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/bmcemu/bmcemu/platform/accounts"
)

type sessionService struct {
	odata
	ID             string `json:"Id"`
	Name           string `json:"Name"`
	Description    string `json:"Description"`
	ServiceEnabled bool   `json:"ServiceEnabled"`
	SessionTimeout int    `json:"SessionTimeout"`
	Sessions       link   `json:"Sessions"`
	Status         status `json:"Status"`
}

func (s *service) getSessionService(*request) (any, error) {
	return sessionService{
		odata:          odata{ID: pathSessionService, Type: typeSessionService},
		ID:             "SessionService",
		Name:           "Session Service",
		Description:    "Redfish login sessions (X-Auth-Token); sessions end on DELETE, after SessionTimeout idle seconds, or on restart",
		ServiceEnabled: true,
		SessionTimeout: int(s.sessions.getTimeout() / time.Second),
		Sessions:       link{ID: pathSessions},
		Status:         status{State: "Enabled", Health: "OK"},
	}, nil
}

type sessionServicePatch struct {
	SessionTimeout *int `json:"SessionTimeout" validate:"omitempty,min=30,max=86400"`
}

// patchSessionService sets the idle timeout, which applies to live
// sessions at once. It is not persisted: sessions themselves are not.
func (s *service) patchSessionService(r *request) (*response, error) {
	var p sessionServicePatch
	d, err := decodeBody(r.body, &p, jsonNames(sessionService{}))
	if err != nil {
		return nil, err
	}
	if len(d.present) == 0 {
		return nil, failAll(d.problems)
	}
	s.sessions.setTimeout(time.Duration(*p.SessionTimeout) * time.Second)
	return s.afterPatch(r, s.getSessionService, d)
}

// afterPatch answers a successful PATCH with the resource as it now is,
// plus the refused properties of a partial success.
func (s *service) afterPatch(r *request, get getFunc, d *decoded) (*response, error) {
	r.snap = s.platform.Snapshot()
	v, err := get(r)
	if err != nil {
		return nil, err
	}
	body, err := withMessages(v, d.problems)
	if err != nil {
		return nil, err
	}
	return &response{status: http.StatusOK, body: body, refetch: true}, nil
}

type sessionResource struct {
	odata
	ID                    string  `json:"Id"`
	Name                  string  `json:"Name"`
	UserName              string  `json:"UserName"`
	Password              *string `json:"Password"` // always null on read
	CreatedTime           string  `json:"CreatedTime"`
	ClientOriginIPAddress string  `json:"ClientOriginIPAddress,omitempty"`
	SessionType           string  `json:"SessionType"`
}

func sessionPath(id string) string { return pathSessions + "/" + id }

func sessionView(ss *session) sessionResource {
	return sessionResource{
		odata:                 odata{ID: sessionPath(ss.id), Type: typeSession},
		ID:                    ss.id,
		Name:                  "User Session " + ss.id,
		UserName:              ss.user,
		CreatedTime:           ss.created.UTC().Format(time.RFC3339),
		ClientOriginIPAddress: ss.origin,
		SessionType:           "Redfish",
	}
}

// getSessions lists every session to those who may manage them, and a
// caller's own sessions to everyone else.
func (s *service) getSessions(r *request) (any, error) {
	var members []link
	for _, ss := range s.sessions.list() {
		if hasPrivilege(r.who.role, privConfigureManager) || ss.accountID == r.who.accountID {
			members = append(members, link{ID: sessionPath(ss.id)})
		}
	}
	return newCollection(pathSessions, typeSessionCollection, "Session Collection", members), nil
}

func (s *service) isOwnSession(r *request) bool {
	ss, ok := s.sessions.get(r.param("session"))
	return ok && r.authed && ss.accountID == r.who.accountID
}

func (s *service) getSession(r *request) (any, error) {
	ss, ok := s.sessions.get(r.param("session"))
	if !ok {
		return nil, errResourceNotFound("Session", r.param("session"))
	}
	return sessionView(ss), nil
}

func (s *service) deleteSession(r *request) (*response, error) {
	if !s.sessions.remove(r.param("session")) {
		return nil, errResourceNotFound("Session", r.param("session"))
	}
	return &response{status: http.StatusNoContent}, nil
}

type sessionLogin struct {
	UserName string `json:"UserName" validate:"required"`
	Password string `json:"Password" validate:"required"`
}

// postSession logs in (DSP0266 clause 13.3.4): 201 with the session, its
// URI in Location and the token in X-Auth-Token. Every failure, locked
// account included, is the same 401.
func (s *service) postSession(r *request) (*response, error) {
	var p sessionLogin
	d, err := decodeBody(r.body, &p, []string{"Id", "Name", "CreatedTime", "SessionType", "ClientOriginIPAddress"})
	if err != nil {
		return nil, err
	}
	if len(d.problems) > 0 {
		return nil, failAll(d.problems)
	}
	src := remoteAddr(r.c.Request)
	acct, err := s.accounts.AuthenticateFrom(src, p.UserName, p.Password)
	if err != nil {
		// A blocked address and a locked account are logged by the store,
		// as per-address summaries; a wrong password is a line of its
		// own, which per-address blocking bounds per address.
		if !errors.Is(err, accounts.ErrBlocked) && !errors.Is(err, accounts.ErrLocked) {
			s.log.Info("redfish: session login failed", "user", p.UserName, "remote", r.c.Request.RemoteAddr, "err", err)
		}
		return nil, s.loginError(src, err)
	}
	origin, _, err := net.SplitHostPort(r.c.Request.RemoteAddr)
	if err != nil {
		origin = ""
	}
	ss, token, err := s.sessions.create(acct.UserName, acct.ID, acct.Role, origin)
	if errors.Is(err, errSessionLimit) {
		return nil, newAPIError(http.StatusServiceUnavailable, "SessionLimitExceeded")
	}
	if err != nil {
		return nil, err
	}
	var body any = sessionView(ss)
	if acct.PasswordChangeRequired {
		body, err = withMessages(body, []*apiError{newAPIError(http.StatusOK, "PasswordChangeRequired", accountPath(acct.ID))})
		if err != nil {
			return nil, err
		}
	}
	return &response{status: http.StatusCreated, body: body, location: sessionPath(ss.id),
		headers: map[string]string{"X-Auth-Token": token}}, nil
}
