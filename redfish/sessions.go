package redfish

// The session service is advertised because ServiceRoot.Links.Sessions is
// required by the schema. Until session login arrives it reports itself
// disabled and its collection stays empty; Basic authentication is the
// only way in.

type sessionService struct {
	odata
	ID             string `json:"Id"`
	Name           string `json:"Name"`
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
		ServiceEnabled: false,
		SessionTimeout: 1800,
		Sessions:       link{ID: pathSessions},
		Status:         status{State: "Disabled"},
	}, nil
}

func (s *service) getSessions(*request) (any, error) {
	return newCollection(pathSessions, typeSessionCollection, "Session Collection", nil), nil
}
