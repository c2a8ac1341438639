package redfish

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
)

// realm names the protection space in WWW-Authenticate.
const realm = "Redfish"

// Roles are the Redfish predefined roles (DSP0266 clause 13.2.6).
const (
	RoleAdministrator = "Administrator"
	RoleOperator      = "Operator"
	RoleReadOnly      = "ReadOnly"
)

// principalKey is where the authenticated principal lives in the gin
// context, for the privilege checks that arrive with writable resources.
const principalKey = "redfish.principal"

// principal is who a request acts as.
type principal struct {
	user string
	role string
}

type credential struct {
	hash [sha256.Size]byte
	role string
}

// authenticator checks HTTP Basic credentials. It is the seam where
// session tokens (X-Auth-Token) join later.
type authenticator struct {
	accounts map[string]credential
}

var errBadAccount = errors.New("invalid account")

func newAuthenticator(accounts []Account) (*authenticator, error) {
	a := &authenticator{accounts: make(map[string]credential, len(accounts))}
	for i, acct := range accounts {
		switch {
		case acct.UserName == "":
			return nil, fmt.Errorf("account %d: %w: empty user name", i, errBadAccount)
		case acct.Role != RoleAdministrator && acct.Role != RoleOperator && acct.Role != RoleReadOnly:
			return nil, fmt.Errorf("account %q: %w: role %q (want %s, %s or %s)", acct.UserName, errBadAccount, acct.Role, RoleAdministrator, RoleOperator, RoleReadOnly)
		}
		if _, dup := a.accounts[acct.UserName]; dup {
			return nil, fmt.Errorf("account %q: %w: defined twice", acct.UserName, errBadAccount)
		}
		a.accounts[acct.UserName] = credential{hash: sha256.Sum256([]byte(acct.Password)), role: acct.Role}
	}
	return a, nil
}

// check returns the principal the request authenticates as. Passwords are
// compared as fixed-length digests in constant time, and an unknown user is
// compared too, so timing reveals neither password length nor which user
// names exist.
func (a *authenticator) check(r *http.Request) (principal, bool) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return principal{}, false
	}
	cred, known := a.accounts[user]
	h := sha256.Sum256([]byte(pass))
	match := subtle.ConstantTimeCompare(h[:], cred.hash[:]) == 1
	if !known || !match {
		return principal{}, false
	}
	return principal{user: user, role: cred.role}, true
}

// requireAuth is the middleware in front of every resource that is not
// public under DSP0266 clause 13.3.
func (s *service) requireAuth(c *gin.Context) {
	if !s.authorize(c) {
		return
	}
	c.Next()
}

// authorize authenticates the request, answering 401 when it fails.
func (s *service) authorize(c *gin.Context) bool {
	p, ok := s.auth.check(c.Request)
	if !ok {
		s.fail(c, errNoValidSession())
		return false
	}
	c.Set(principalKey, p)
	return true
}

// isPublic reports whether path may be read without credentials: the
// version document, the service root and the OData documents.
func isPublic(path string) bool {
	switch path {
	case pathRedfish, pathRoot, pathODataDoc, pathMetadata:
		return true
	}
	return false
}
