package redfish

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bmcemu/bmcemu/platform/accounts"
)

// realm names the protection space in WWW-Authenticate.
const realm = "Redfish"

// Roles are the Redfish predefined roles (DSP0266 clause 13.2.6).
const (
	RoleAdministrator = accounts.RoleAdministrator
	RoleOperator      = accounts.RoleOperator
	RoleReadOnly      = accounts.RoleReadOnly
)

// principalKey is where the authenticated principal lives in the gin
// context for raw handlers (SSE), which get no *request.
const principalKey = "redfish.principal"

// accessLogKey is where accessLog leaves a *principal for the pipeline to
// fill in. Only a request that is being logged has one: storing a value in
// the gin context allocates its key map, which every request would pay
// for.
const accessLogKey = "redfish.accessLog.principal"

// notePrincipal records who the request acts as for the access log and,
// when raw is set, for a raw handler.
func notePrincipal(c *gin.Context, p principal, raw bool) {
	if raw {
		c.Set(principalKey, p)
	}
	if v, ok := c.Get(accessLogKey); ok {
		if slot, ok := v.(*principal); ok {
			*slot = p
		}
	}
}

// principal is who a request acts as. The role is read from the account
// store on every request, so a role change or a deleted account takes
// effect at once, for sessions too.
type principal struct {
	user                   string
	accountID              int
	role                   string
	sessionID              string // empty for Basic authentication
	passwordChangeRequired bool
}

var errBadAccount = errors.New("invalid account")

// Session limits.
//
// maxSessions bounds the table. With that alone, one account could hold
// every session for the idle timeout (a ReadOnly account logging in 64
// times locks administrators out with 503 for 30 minutes), so each account
// may hold at most maxSessionsPerAccount, and the last
// sessionsReservedForAdmin slots go to Administrator accounts only: no
// other account, nor several of them together, can take every session.
// bmcweb bounds neither: its SessionStore::generateUserSession (HEAD of
// openbmc/bmcweb, 2026) adds a session for every successful login with no
// limit at all, per user or in total, and never answers
// SessionLimitExceeded for a login.
const (
	defaultSessionTimeout    = 30 * time.Minute
	minSessionTimeout        = 30 * time.Second
	maxSessionTimeout        = 86400 * time.Second
	maxSessions              = 64
	maxSessionsPerAccount    = 16
	sessionsReservedForAdmin = 4
)

// session is one Redfish login session. Sessions are volatile, as on real
// BMCs: a restart logs everyone out. Everything but lastUsed is fixed at
// login, so the table hands out pointers and readers take no lock.
type session struct {
	id        string
	tokenHash [sha256.Size]byte
	user      string
	accountID int
	created   time.Time
	origin    string
	// lastUsed is the idle timer's start (the table's elapsed ns). Every authenticated
	// request reads it, and writes it only when it is refreshSlack
	// behind: on every request the one cache line would bounce between
	// the cores serving them.
	lastUsed atomic.Int64
	// gone is set when the session leaves the table, for the connection
	// memos that still point at it (connTokens).
	gone atomic.Bool
}

// refreshSlack is how stale lastUsed may be: a session's idle timeout
// (30 s at the least) ends at most this much early.
const refreshSlack = 10 * time.Millisecond

// sessionTable holds the live sessions, indexed by the SHA-256 of their
// token, so the table never holds a usable token and lookups do not compare
// secrets byte by byte. Lookups read a published map without locking;
// the rare changes (login, logout, expiry) copy it under mu and publish the
// copy: at most maxSessions entries.
type sessionTable struct {
	mu  sync.Mutex // serialises changes
	now func() time.Time
	// elapsed is the time since the table was made, by now's clock:
	// idle timers count in it. On the real clock it reads the monotonic
	// clock alone, once per request instead of twice.
	elapsed func() time.Duration
	timeout atomic.Int64 // ns
	live    atomic.Pointer[map[[sha256.Size]byte]*session]
	nextID  uint64
}

// newSessionTable makes a table on the clock now, or on the real clock
// when now is nil.
func newSessionTable(now func() time.Time) *sessionTable {
	t := &sessionTable{now: now}
	if now == nil {
		t.now = time.Now
		epoch := time.Now()
		t.elapsed = func() time.Duration { return time.Since(epoch) }
	} else {
		epoch := now()
		t.elapsed = func() time.Duration { return now().Sub(epoch) }
	}
	t.timeout.Store(int64(defaultSessionTimeout))
	t.live.Store(&map[[sha256.Size]byte]*session{})
	return t
}

// create starts a session for an account with role and returns it with its
// token; errSessionLimit when the table, or the account's share of it, is
// full.
func (t *sessionTable) create(user string, accountID int, role, origin string) (*session, string, error) {
	var raw [tokenBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, "", err
	}
	token := hex.EncodeToString(raw[:])
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked()
	live := *t.live.Load()
	limit := maxSessions
	if role != RoleAdministrator {
		limit -= sessionsReservedForAdmin
	}
	if len(live) >= limit {
		return nil, "", errSessionLimit
	}
	own := 0
	for _, s := range live {
		if s.accountID == accountID {
			own++
		}
	}
	if own >= maxSessionsPerAccount {
		return nil, "", errSessionLimit
	}
	t.nextID++
	s := &session{id: strconv.FormatUint(t.nextID, 10), tokenHash: sha256.Sum256(raw[:]),
		user: user, accountID: accountID, created: t.now(), origin: origin}
	s.lastUsed.Store(int64(t.elapsed()))
	next := maps.Clone(live)
	next[s.tokenHash] = s
	t.live.Store(&next)
	return s, token, nil
}

var errSessionLimit = errors.New("session limit")

// tokenBytes is the random part of a session token; the token is its
// lowercase hex.
const tokenBytes = 32

// tokenHash is the SHA-256 of the random bytes a token spells, and false
// for anything that is not a token this service could have issued (the
// wrong length, a character other than 0-9a-f), which then costs no hash.
// Hashing the 32 decoded bytes takes one SHA-256 block where the 64 hex
// digits would take two.
func tokenHash(token string) ([sha256.Size]byte, bool) {
	var raw [tokenBytes]byte
	if len(token) != 2*tokenBytes {
		return [sha256.Size]byte{}, false
	}
	for i := range raw {
		hi, ok1 := lowerHexDigit(token[2*i])
		lo, ok2 := lowerHexDigit(token[2*i+1])
		if !ok1 || !ok2 {
			return [sha256.Size]byte{}, false
		}
		raw[i] = hi<<4 | lo
	}
	return sha256.Sum256(raw[:]), true
}

// lowerHexDigit is the value of one digit as hex.EncodeToString writes it.
// Upper case is refused: a token is compared as the client was given it.
func lowerHexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// lookup finds the live session for token and refreshes its idle timer.
func (t *sessionTable) lookup(token string) (*session, bool) {
	h, ok := tokenHash(token)
	if !ok {
		return nil, false
	}
	s, ok := (*t.live.Load())[h]
	if !ok {
		return nil, false
	}
	return s, t.touch(s)
}

// lookupVia is lookup for a request on a connection with memo (nil: none).
// A client sends the same token on every request of a keep-alive
// connection: when it is the one the connection last authenticated here,
// the session is taken from the memo without hashing the token again.
func (t *sessionTable) lookupVia(memo *connTokens, token string) (*session, bool) {
	if memo == nil {
		return t.lookup(token)
	}
	if m := memo.last.Load(); m != nil && m.table == t && equalSecret(m.token, token) && !m.sess.gone.Load() {
		return m.sess, t.touch(m.sess)
	}
	s, ok := t.lookup(token)
	if ok {
		memo.last.Store(&tokenMemo{table: t, token: token, sess: s})
	}
	return s, ok
}

// touch refreshes a live session's idle timer, or ends it and reports
// false when the timer has run out.
func (t *sessionTable) touch(s *session) bool {
	now := int64(t.elapsed())
	last := s.lastUsed.Load()
	if now-last >= t.timeout.Load() {
		t.mu.Lock()
		t.expireLocked()
		t.mu.Unlock()
		return false
	}
	if now-last >= int64(refreshSlack) {
		// A lost race leaves a time as fresh, near enough.
		s.lastUsed.CompareAndSwap(last, now)
	}
	return true
}

// equalSecret compares two secrets (a session token, a Basic
// Authorization field) in time that depends on their length only, which
// is public. It is subtle.ConstantTimeCompare on strings: converting a
// header value to []byte for that would allocate on every request. It
// takes eight bytes at a time (the compiler makes each le64 one load), a
// byte at a time only for a tail.
func equalSecret(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v uint64
	i := 0
	for ; i+8 <= len(a); i += 8 {
		v |= le64(a[i:]) ^ le64(b[i:])
	}
	for ; i < len(a); i++ {
		v |= uint64(a[i] ^ b[i])
	}
	return v == 0
}

// le64 is the little-endian word of s's first eight bytes.
func le64(s string) uint64 {
	_ = s[7] // one bounds check
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// connTokens is a connection's memo of the credentials it last
// authenticated: the session token, and in which table, and the Basic
// Authorization field with what it decodes to. It holds what the
// connection's own read buffer held already, for as long as the
// connection lives; the session table still holds no token and the
// account store no password. HTTP/2 serves a connection's streams at
// once, hence the atomics.
type connTokens struct {
	last  atomic.Pointer[tokenMemo]
	basic atomic.Pointer[basicMemo]
	// src is the peer's address, taken from the connection once:
	// parsing it from Request.RemoteAddr on every Basic request cost
	// more than the rest of the address checks. Invalid for a peer that
	// is not TCP; requests then parse RemoteAddr as before.
	src netip.Addr
}

// basicMemo is a Basic Authorization field value that authenticated on
// the connection, decoded: its user name and its password's digest
// (accounts.PasswordDigest). A request sending the same field skips the
// base64 decoding and the SHA-256, and nothing else: the account store
// judges the digest as it would the password.
type basicMemo struct {
	field  string
	user   string
	digest [sha256.Size]byte
}

type tokenMemo struct {
	table *sessionTable
	token string
	sess  *session
}

type connTokensKey struct{}

// ConnContext is an http.Server ConnContext giving each connection a
// memo of its credentials (connTokens), which spares a keep-alive
// client's requests after the first the SHA-256 of their session token
// or Basic password. Servers without it work the same, hashing every
// time.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	m := &connTokens{}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		m.src = a.AddrPort().Addr().Unmap()
	}
	return context.WithValue(ctx, connTokensKey{}, m)
}

func connTokensOf(r *http.Request) *connTokens {
	m, _ := r.Context().Value(connTokensKey{}).(*connTokens)
	return m
}

func (t *sessionTable) expireLocked() {
	now, timeout := int64(t.elapsed()), t.timeout.Load()
	t.removeLocked(func(s *session) bool { return now-s.lastUsed.Load() >= timeout })
}

// removeLocked ends the sessions del picks, marking them gone for the
// connection memos, and reports how many it ended. The live map is copied
// only when one leaves: listing and counting expire on every call, and
// almost always nothing has. The caller holds mu.
func (t *sessionTable) removeLocked(del func(*session) bool) int {
	live := *t.live.Load()
	var next map[[sha256.Size]byte]*session
	for h, s := range live {
		if !del(s) {
			continue
		}
		if next == nil {
			next = maps.Clone(live)
		}
		delete(next, h)
		s.gone.Store(true)
	}
	if next == nil {
		return 0
	}
	t.live.Store(&next)
	return len(live) - len(next)
}

// list returns the live sessions ordered by id.
func (t *sessionTable) list() []*session {
	t.mu.Lock()
	t.expireLocked()
	t.mu.Unlock()
	live := *t.live.Load()
	out := make([]*session, 0, len(live))
	for _, s := range live {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.ParseUint(out[i].id, 10, 64)
		b, _ := strconv.ParseUint(out[j].id, 10, 64)
		return a < b
	})
	return out
}

func (t *sessionTable) get(id string) (*session, bool) {
	t.mu.Lock()
	t.expireLocked()
	t.mu.Unlock()
	for _, s := range *t.live.Load() {
		if s.id == id {
			return s, true
		}
	}
	return nil, false
}

// removeWhere ends the sessions del picks and reports how many it ended.
func (t *sessionTable) removeWhere(del func(*session) bool) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.removeLocked(del)
}

func (t *sessionTable) remove(id string) bool {
	return t.removeWhere(func(s *session) bool { return s.id == id }) > 0
}

// clear ends every session (a session expiry storm, a BMC cold reset)
// and returns how many there were.
func (t *sessionTable) clear() int {
	return t.removeWhere(func(*session) bool { return true })
}

// dropAccount ends every session of an account that was deleted.
func (t *sessionTable) dropAccount(id int) {
	t.removeWhere(func(s *session) bool { return s.accountID == id })
}

func (t *sessionTable) setTimeout(d time.Duration) { t.timeout.Store(int64(d)) }

func (t *sessionTable) getTimeout() time.Duration { return time.Duration(t.timeout.Load()) }

// authenticate resolves the request's credentials: an X-Auth-Token session
// token, else HTTP Basic. It fails with errNoValidSession when none were
// given or they are invalid (a locked-out account looks exactly like a
// wrong password), and with errAddressBlocked when Basic credentials come
// from an address blocked for repeated failures.
//
// Session tokens are not refused from a blocked address: blocking is
// against password guessing, and a token (256 random bits) cannot be
// guessed; a session opened before the block (behind the same NAT as the
// guesser, say) keeps working.
func (s *service) authenticate(c *gin.Context) (principal, error) {
	return s.authenticateRequest(c.Request)
}

func (s *service) authenticateRequest(r *http.Request) (principal, error) {
	if tok := h1(r.Header, hdrAuthToken); tok != "" {
		sess, ok := s.sessions.lookupVia(connTokensOf(r), tok)
		if !ok {
			return principal{}, errNoValidSession()
		}
		acct, ok := s.accounts.Principal(sess.accountID)
		if !ok || !acct.Enabled || acct.UserName != sess.user {
			// The account was removed, disabled or renamed: the session
			// no longer stands for anyone.
			s.sessions.remove(sess.id)
			return principal{}, errNoValidSession()
		}
		return principal{user: acct.UserName, accountID: acct.ID, role: acct.Role, sessionID: sess.id,
			passwordChangeRequired: acct.PasswordChangeRequired}, nil
	}
	memo := connTokensOf(r)
	field := h1(r.Header, hdrAuthorization)
	var (
		user   string
		digest [sha256.Size]byte
		miss   bool
	)
	if m := memo.basicFor(field); m != nil {
		user, digest = m.user, m.digest
	} else {
		var buf [maxBasicCredentials]byte
		u, pass, ok := parseBasic(field, &buf)
		if !ok {
			return principal{}, errNoValidSession()
		}
		user, digest, miss = string(u), accounts.PasswordDigest(string(pass)), true
	}
	// Refusals (blocked address, locked account) are logged by the store
	// as per-address summaries, not here once per request: a client
	// retrying in a loop would otherwise write thousands of lines a
	// second.
	src := memo.source(r)
	acct, err := s.accounts.AuthenticateDigestFrom(src, user, digest)
	if err != nil {
		return principal{}, s.loginError(src, err)
	}
	if miss && memo != nil {
		memo.basic.Store(&basicMemo{field: field, user: user, digest: digest})
	}
	return principal{user: acct.UserName, accountID: acct.ID, role: acct.Role,
		passwordChangeRequired: acct.PasswordChangeRequired}, nil
}

// basicFor is the connection's memo of field if field is the one it
// holds (compared in constant time for a given length), or nil.
func (m *connTokens) basicFor(field string) *basicMemo {
	if m == nil || field == "" {
		return nil
	}
	if b := m.basic.Load(); b != nil && equalSecret(b.field, field) {
		return b
	}
	return nil
}

// source is the address r came from: the connection's, or RemoteAddr
// parsed when the memo does not know it.
func (m *connTokens) source(r *http.Request) netip.Addr {
	if m != nil && m.src.IsValid() {
		return m.src
	}
	return remoteAddr(r)
}

// loginError is the client's answer to a failed login from src.
func (s *service) loginError(src netip.Addr, err error) error {
	if errors.Is(err, accounts.ErrBlocked) {
		if until, blocked := s.accounts.BlockedUntil(src); blocked {
			return errAddressBlocked(until.Sub(s.now()))
		}
		// The block ended in between: the next attempt is looked at.
		return errAddressBlocked(time.Second)
	}
	return errNoValidSession()
}

// remoteAddr is the address a request came from (the TCP peer: no
// forwarding header is trusted), or the zero Addr when it has none.
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// maxBasicEncoded bounds the base64 of a Basic Authorization header and
// maxBasicCredentials the user:password it decodes to (258 bytes);
// IPMI-compatible names are at most 16 bytes and passwords 20, so anything
// longer cannot match an account.
const (
	maxBasicEncoded     = 344 // base64 of 256 bytes
	maxBasicCredentials = maxBasicEncoded / 4 * 3
)

// parseBasic decodes "Basic base64(user:pass)" (RFC 7617) into buf, the
// way net/http's Request.BasicAuth does but without allocating the
// decoded string on every request.
func parseBasic(auth string, buf *[maxBasicCredentials]byte) (user, pass []byte, ok bool) {
	const prefix = "Basic "
	if len(auth) < len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		return nil, nil, false
	}
	enc := auth[len(prefix):]
	if len(enc) > maxBasicEncoded {
		return nil, nil, false
	}
	// Decode takes bytes; a stack copy spares converting the string.
	var src [maxBasicEncoded]byte
	n, err := base64.StdEncoding.Decode(buf[:], append(src[:0], enc...))
	if err != nil {
		return nil, nil, false
	}
	user, pass, ok = bytes.Cut(buf[:n], []byte{':'})
	if !ok {
		return nil, nil, false
	}
	return user, pass, true
}

// authorize authenticates the request, answering 401 (or 503 for a
// blocked address) when it fails.
func (s *service) authorize(c *gin.Context) bool {
	p, err := s.authenticate(c)
	if err != nil {
		s.fail(c, err)
		return false
	}
	notePrincipal(c, p, true)
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

// count is the number of live sessions.
func (t *sessionTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked()
	return len(*t.live.Load())
}
