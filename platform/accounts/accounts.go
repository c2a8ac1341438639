// Package accounts is the management controller's user database: the one
// list of local accounts that both management surfaces (Redfish and IPMI)
// authenticate against, so a password changed through one works through the
// other.
//
// # Secrets
//
// IPMI v2.0 RAKP authentication is an HMAC keyed with the user's password:
// the BMC must know the clear password, not a one-way hash of it. Real BMCs
// therefore keep passwords reversibly encrypted (OpenBMC's ipmi_pass file is
// AES-encrypted with a key kept in a separate root-only file). This package
// does the same: on disk every password is sealed with AES-256-GCM under a
// random key kept in a sibling file (<path>.key, mode 0600), so a copy of
// the account file alone reveals nothing, while Secret can hand the clear
// password to the IPMI session code. Anyone who can read both files can read
// the passwords; that is the price of IPMI compatibility and is the same on
// real hardware.
//
// # Limits
//
// User names are at most 16 bytes (the IPMI user name field) and passwords
// at most 20 bytes (the IPMI v2.0 password/key length), so that every
// account is usable over both protocols. Account ids are IPMI user ids
// (2..16; id 1 is IPMI's reserved anonymous user).
//
// Lockout counters are volatile, as on most BMCs: a restart unlocks.
//
// # Account lockout and per-address blocking
//
// Two defences against password guessing run here, below both surfaces:
//
//   - Account lockout, the DMTF AccountService semantics (DSP0268
//     AccountService: AccountLockoutThreshold failed logins within
//     AccountLockoutCounterResetAfter of one another lock the account for
//     AccountLockoutDuration). It protects an account against guessing
//     spread over many addresses.
//   - Per-address blocking (package ipblock, iDRAC's IP blocking): FailCount
//     failures from one address within FailWindow refuse that address for
//     Penalty. It stops the guessing address and nobody else.
//
// Left alone, account lockout is a denial of service: anyone who can reach
// the BMC can lock the administrator out of Redfish and IPMI by sending
// five wrong passwords, every five minutes, forever. So, while per-address
// blocking is enabled, the two are combined this way:
//
//   - An attempt from a blocked address is refused before the credentials
//     are looked at (ErrBlocked): it counts towards no account and tells
//     the address nothing about the password.
//   - One address's failures count towards an account's lockout counter at
//     most AccountLockoutThreshold-1 times (per counting period): a single
//     address can never lock an account for everyone, however slowly it
//     guesses. Lockout still trips when failures come from several
//     addresses, which is the distributed guessing it is for.
//   - An attempt on an account that is locked is refused (ErrLocked) and
//     counts towards nothing, so a locked account is no password oracle.
//   - Failures for a user name that does not exist count towards the
//     address, as any failed login does.
//
// With per-address blocking disabled, lockout is exactly DMTF's: every
// failure counts. Attempts whose source is unknown (the zero netip.Addr)
// are never blocked and always count, also exactly as DMTF describes.
//
// bmcweb leaves lockout to PAM (pam_faillock, per user: AccountLockoutThreshold
// is phosphor-user-manager's MaxLoginAttemptBeforeLockout) and has no
// per-address blocking; its maintainers' answer to password guessing is to
// "limit by IP address" (openbmc/bmcweb issue 151). iDRAC has both, and
// documents no interplay: its IP blocking alone decides per address.
package accounts

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bmcemu/bmcemu/platform/clock"
	"github.com/bmcemu/bmcemu/platform/ipblock"
	"github.com/bmcemu/bmcemu/platform/store"
)

// Predefined roles (DSP0266 clause 13.2.6).
const (
	RoleAdministrator = "Administrator"
	RoleOperator      = "Operator"
	RoleReadOnly      = "ReadOnly"
)

// Roles lists the predefined roles, most privileged first.
func Roles() []string { return []string{RoleAdministrator, RoleOperator, RoleReadOnly} }

// Protocol limits that bound every account.
const (
	MaxUserNameLength   = 16 // IPMI user name field
	MaxPasswordLimit    = 20 // IPMI v2.0 password
	MinUserID           = 2  // IPMI user 1 is the reserved anonymous user
	MaxUsers            = 15
	minPasswordFloor    = 1
	defaultMinPassword  = 8
	defaultLockout      = 5
	defaultLockoutDur   = 5 * time.Minute
	defaultLockoutReset = 5 * time.Minute
)

// Errors. Callers map them to their protocol's own error forms.
var (
	ErrInvalidCredentials = errors.New("invalid user name or password")
	ErrLocked             = errors.New("account locked out")
	ErrBlocked            = errors.New("source address blocked after repeated failed logins")
	ErrDisabled           = errors.New("account disabled")
	ErrNotFound           = errors.New("no such account")
	ErrExists             = errors.New("user name already in use")
	ErrUserName           = errors.New("invalid user name")
	ErrPasswordLength     = errors.New("password length outside the policy")
	ErrRole               = errors.New("unknown role")
	ErrLimit              = errors.New("account limit reached")
	ErrIDTaken            = errors.New("account ID in use or out of range")
	ErrLastAdmin          = errors.New("would leave no enabled administrator")
	ErrPolicy             = errors.New("invalid account policy")
	ErrPersist            = errors.New("accounts could not be saved")
)

// Policy is the account service's password and lockout policy.
type Policy struct {
	MinPasswordLength int `json:"min_password_length"`
	MaxPasswordLength int `json:"max_password_length"`
	// LockoutThreshold failed attempts within LockoutCounterResetAfter lock
	// the account for LockoutDuration (0: until an administrator unlocks
	// it). A threshold of 0 disables lockout.
	LockoutThreshold         int           `json:"lockout_threshold"`
	LockoutDuration          time.Duration `json:"lockout_duration"`
	LockoutCounterResetAfter time.Duration `json:"lockout_counter_reset_after"`
}

// DefaultPolicy is what a fresh store starts with.
func DefaultPolicy() Policy {
	return Policy{
		MinPasswordLength:        defaultMinPassword,
		MaxPasswordLength:        MaxPasswordLimit,
		LockoutThreshold:         defaultLockout,
		LockoutDuration:          defaultLockoutDur,
		LockoutCounterResetAfter: defaultLockoutReset,
	}
}

// Validate checks the policy is self-consistent and within protocol limits.
func (p Policy) Validate() error {
	switch {
	case p.MinPasswordLength < minPasswordFloor || p.MinPasswordLength > MaxPasswordLimit:
		return fmt.Errorf("%w: MinPasswordLength %d outside %d..%d", ErrPolicy, p.MinPasswordLength, minPasswordFloor, MaxPasswordLimit)
	case p.MaxPasswordLength < p.MinPasswordLength || p.MaxPasswordLength > MaxPasswordLimit:
		return fmt.Errorf("%w: MaxPasswordLength %d outside %d..%d", ErrPolicy, p.MaxPasswordLength, p.MinPasswordLength, MaxPasswordLimit)
	case p.LockoutThreshold < 0:
		return fmt.Errorf("%w: negative lockout threshold", ErrPolicy)
	case p.LockoutDuration < 0 || p.LockoutCounterResetAfter < 0:
		return fmt.Errorf("%w: negative lockout duration", ErrPolicy)
	case p.LockoutThreshold > 0 && p.LockoutDuration > 0 && p.LockoutCounterResetAfter > p.LockoutDuration:
		// DSP8010 AccountService: the reset interval shall not exceed the
		// lockout duration.
		return fmt.Errorf("%w: counter reset after %v exceeds the lockout duration %v", ErrPolicy, p.LockoutCounterResetAfter, p.LockoutDuration)
	}
	return nil
}

// Account is one user, without its secret.
type Account struct {
	ID                     int    `json:"id"`
	UserName               string `json:"user_name"`
	Role                   string `json:"role"`
	Enabled                bool   `json:"enabled"`
	PasswordChangeRequired bool   `json:"password_change_required"`
	// Locked is true while the account is locked out (runtime only).
	Locked bool `json:"-"`
}

// New describes an account to create.
type New struct {
	// ID asks for one user ID (IPMI Set User Name names the slot); 0 takes
	// the lowest free one.
	ID                     int
	UserName               string
	Password               string
	Role                   string
	Enabled                bool
	PasswordChangeRequired bool
}

// Update changes the non-nil fields of an account.
type Update struct {
	UserName               *string
	Password               *string
	Role                   *string
	Enabled                *bool
	PasswordChangeRequired *bool
	// Locked may only be set to false: an administrator unlocking.
	Locked *bool
}

// Options configure Open.
type Options struct {
	// Path is the JSON document holding the accounts; empty keeps them in
	// memory only. The sealing key lives in Path+".key".
	Path string
	// Seed is created when nothing was saved yet (first start).
	Seed []New
	// Policy for a fresh store; nil means DefaultPolicy.
	Policy *Policy
	// Now is the clock for lockout; nil means time.Now. Clock, when set,
	// replaces it.
	Now func() time.Time
	// Clock tells the time for lockout and per-address blocking and times
	// the blocking's summary log lines; nil is Now with real timers.
	Clock clock.Clock
	// IPBlocking are the per-address blocking settings of a fresh store;
	// nil means ipblock.DefaultSettings. A saved store keeps its own.
	IPBlocking *ipblock.Settings
	// Logger receives the per-address blocking's notices and refusal
	// summaries; nil discards them.
	Logger *slog.Logger
}

// nowClock is a clock.Clock telling the time from a func and timing with
// real timers.
type nowClock func() time.Time

func (f nowClock) Now() time.Time { return f() }
func (f nowClock) AfterFunc(d time.Duration, fn func()) clock.Timer {
	return clock.Real{}.AfterFunc(d, fn)
}

// maxSourcesPerAccount bounds the addresses an account's lockout counter
// attributes failures to; failures from further addresses count
// unattributed (a guess spread over that many addresses is what lockout is
// for anyway).
const maxSourcesPerAccount = 64

type entry struct {
	Account
	secret []byte
	digest [sha256.Size]byte
	// lockout bookkeeping
	failures    int
	lastFailure time.Time
	lockedUntil time.Time
	lockedHard  bool // locked until an administrator unlocks
	// bySource counts the failures of the current counting period per
	// source address (ipblock.Key), while per-address blocking is on.
	bySource map[netip.Addr]int
}

// Store is the account database. It is safe for concurrent use.
type Store struct {
	mu      sync.Mutex
	path    string
	key     []byte
	now     func() time.Time
	policy  Policy
	blk     *ipblock.Blocker
	entries []*entry // sorted by ID
	gen     uint64
	dummy   [sha256.Size]byte
	// published is every account as of the last change, for Principal:
	// every authenticated request asks, and the lock word would move
	// between the cores serving them.
	published atomic.Pointer[[]Account]
}

// Open loads the store at opts.Path, creating it from opts.Seed the first
// time.
func Open(opts Options) (*Store, error) {
	s := &Store{path: opts.Path, now: opts.Now, policy: DefaultPolicy()}
	if s.now == nil {
		s.now = time.Now
	}
	clk := opts.Clock
	if clk != nil {
		s.now = clk.Now
	} else {
		clk = nowClock(s.now)
	}
	if opts.Policy != nil {
		if err := opts.Policy.Validate(); err != nil {
			return nil, fmt.Errorf("accounts: %w", err)
		}
		s.policy = *opts.Policy
	}
	blocking := ipblock.DefaultSettings()
	if opts.IPBlocking != nil {
		blocking = *opts.IPBlocking
	}
	blk, err := ipblock.New(ipblock.Options{Settings: blocking, Clock: clk, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	s.blk = blk
	s.dummy = sha256.Sum256([]byte("bmcemu: no such user"))
	if s.path != "" {
		// A crash mid-save leaves temporary copies of both files, sealed
		// secrets of since-deleted accounts among them: never read, gone.
		for _, p := range []string{s.path, s.path + ".key"} {
			if _, err := store.RemoveStaleTemps(p); err != nil {
				return nil, fmt.Errorf("accounts: %w", err)
			}
		}
		key, err := loadOrCreateKey(s.path + ".key")
		if err != nil {
			return nil, fmt.Errorf("accounts: %w", err)
		}
		s.key = key
		loaded, err := s.load()
		if err != nil {
			return nil, fmt.Errorf("accounts: %w", err)
		}
		if loaded {
			s.publish()
			return s, nil
		}
	}
	for _, n := range opts.Seed {
		// Seeds are the operator's configuration: they obey the protocol
		// limits but not the password policy (a default "password" of 8
		// letters must keep working whatever the policy says later).
		if _, err := s.create(n, false); err != nil {
			return nil, fmt.Errorf("accounts: seed %q: %w", n.UserName, err)
		}
	}
	if err := s.save(); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	s.publish()
	return s, nil
}

// Policy returns the current policy.
func (s *Store) Policy() Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policy
}

// SetPolicy replaces the policy. Existing passwords are not re-checked.
func (s *Store) SetPolicy(p Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.policy
	s.policy = p
	if err := s.save(); err != nil {
		s.policy = old
		return err
	}
	s.changed()
	return nil
}

// Generation increases with every change, for ETags.
func (s *Store) Generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// List returns every account ordered by id.
func (s *Store) List() []Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Account, len(s.entries))
	for i, e := range s.entries {
		out[i] = s.view(e)
	}
	return out
}

// Get returns the account with id.
func (s *Store) Get(id int) (Account, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byID(id)
	if e == nil {
		return Account{}, false
	}
	return s.view(e), true
}

// Principal returns the account with id as of the last change, with
// Locked false whatever its lockout: what a request presenting a session
// needs (a session was opened with the password, and a lockout refuses
// passwords, not sessions). It takes no lock.
func (s *Store) Principal(id int) (Account, bool) {
	for _, a := range *s.published.Load() {
		if a.ID == id {
			return a, true
		}
	}
	return Account{}, false
}

// changed marks a change of the accounts or their settings: a new
// generation, and a new published copy. The caller holds mu.
func (s *Store) changed() {
	s.gen++
	s.publish()
}

func (s *Store) publish() {
	out := make([]Account, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.Account
		out[i].Locked = false
	}
	s.published.Store(&out)
}

// Lookup returns the account named user.
func (s *Store) Lookup(user string) (Account, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byName(user)
	if e == nil {
		return Account{}, false
	}
	return s.view(e), true
}

// Secret returns the clear password of user, for protocols such as IPMI
// RAKP that key an HMAC with it. Disabled and locked-out accounts have none.
func (s *Store) Secret(user string) ([]byte, Account, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byName(user)
	if e == nil || !e.Enabled || s.lockedLocked(e) {
		return nil, Account{}, false
	}
	return slices.Clone(e.secret), s.view(e), true
}

// RecordFailure counts a failed authentication of user from an unknown
// source; see RecordFailureFrom.
func (s *Store) RecordFailure(user string) { s.RecordFailureFrom(netip.Addr{}, user) }

// RecordFailureFrom counts a failed authentication of user from src made
// outside Authenticate (an IPMI RAKP mismatch), so lockout and per-address
// blocking span both protocols.
func (s *Store) RecordFailureFrom(src netip.Addr, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byName(user)
	switch {
	case e == nil:
		s.blk.Fail(src)
	case s.lockedLocked(e):
		s.blk.NoteRefused(src, ipblock.AccountLocked)
	default:
		s.blk.Fail(src)
		s.failLocked(e, src)
	}
}

// RecordRefusalFrom notes a login from src that was refused on the user
// name alone, before any password was checked (IPMI RAKP Message 2 with an
// error status): a name that is no account counts as a failure of src's, a
// locked account as a refusal in src's log summary; a disabled account
// counts towards nothing.
func (s *Store) RecordRefusalFrom(src netip.Addr, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byName(user)
	switch {
	case e == nil:
		s.blk.Fail(src)
	case s.lockedLocked(e):
		s.blk.NoteRefused(src, ipblock.AccountLocked)
	}
}

// RefuseFrom is the first check of a login attempt from src made outside
// AuthenticateFrom (an IPMI session handshake): it reports whether src is
// blocked, and until when, counting the refusal for the summary log.
func (s *Store) RefuseFrom(src netip.Addr) (time.Time, bool) { return s.blk.Refuse(src) }

// BlockedUntil reports whether src is blocked and until when, counting
// nothing (for a Retry-After).
func (s *Store) BlockedUntil(src netip.Addr) (time.Time, bool) { return s.blk.Blocked(src) }

// Authenticate checks a user name and password from an unknown source;
// see AuthenticateFrom.
func (s *Store) Authenticate(user, password string) (Account, error) {
	return s.AuthenticateFrom(netip.Addr{}, user, password)
}

// AuthenticateFrom checks a user name and password sent from src. A
// blocked src fails with ErrBlocked before the credentials are looked at.
// Otherwise the comparison is made in constant time over fixed-length
// digests, and an unknown user costs the same as a known one. A locked-out
// account fails with ErrLocked even when the password is right; callers
// must not tell the client which it was.
func (s *Store) AuthenticateFrom(src netip.Addr, user, password string) (Account, error) {
	return s.AuthenticateDigestFrom(src, user, PasswordDigest(password))
}

// PasswordDigest is the digest AuthenticateDigestFrom takes for password.
func PasswordDigest(password string) [sha256.Size]byte { return sha256.Sum256([]byte(password)) }

// AuthenticateDigestFrom is AuthenticateFrom for a password the caller
// has already digested (PasswordDigest): a Redfish connection that sends
// the same Basic credentials on every request digests them once. Every
// rule is AuthenticateFrom's; only the hashing is skipped.
func (s *Store) AuthenticateDigestFrom(src netip.Addr, user string, h [sha256.Size]byte) (Account, error) {
	if _, blocked := s.blk.Refuse(src); blocked {
		return Account{}, ErrBlocked
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byName(user)
	want := s.dummy
	if e != nil {
		want = e.digest
	}
	match := subtle.ConstantTimeCompare(h[:], want[:]) == 1
	if e == nil {
		s.blk.Fail(src)
		return Account{}, ErrInvalidCredentials
	}
	if s.lockedLocked(e) {
		s.blk.NoteRefused(src, ipblock.AccountLocked)
		return Account{}, ErrLocked
	}
	if !match {
		s.blk.Fail(src)
		s.failLocked(e, src)
		return Account{}, ErrInvalidCredentials
	}
	if !e.Enabled {
		return Account{}, ErrDisabled
	}
	// Written only when set: a write on every login would move the
	// entry's cache line between the cores serving Basic requests.
	if e.failures != 0 {
		e.failures = 0
	}
	if len(e.bySource) != 0 {
		clear(e.bySource)
	}
	return s.view(e), nil
}

// failLocked counts a failure towards e's lockout (DSP0268 AccountService:
// AccountLockoutThreshold failures, each within
// AccountLockoutCounterResetAfter of the last, lock the account for
// AccountLockoutDuration). While per-address blocking is on, one address
// counts at most LockoutThreshold-1 times: see the package comment.
func (s *Store) failLocked(e *entry, src netip.Addr) {
	now := s.now()
	p := s.policy
	if p.LockoutThreshold == 0 {
		return
	}
	if p.LockoutCounterResetAfter > 0 && !e.lastFailure.IsZero() && now.Sub(e.lastFailure) >= p.LockoutCounterResetAfter {
		e.failures = 0
		clear(e.bySource)
	}
	if src.IsValid() && s.blk.Settings().Enabled {
		key := ipblock.Key(src)
		n, known := e.bySource[key]
		if n >= p.LockoutThreshold-1 {
			// This address has had its say: the rest is per-address
			// blocking's business, and refreshing lastFailure would keep
			// other addresses' counts alive.
			return
		}
		if known || len(e.bySource) < maxSourcesPerAccount {
			if e.bySource == nil {
				e.bySource = map[netip.Addr]int{}
			}
			e.bySource[key] = n + 1
		}
	}
	e.failures++
	e.lastFailure = now
	if e.failures >= p.LockoutThreshold {
		e.failures = 0
		clear(e.bySource)
		if p.LockoutDuration == 0 {
			e.lockedHard = true
		} else {
			e.lockedUntil = now.Add(p.LockoutDuration)
		}
		s.changed()
	}
}

// IPBlocking returns the per-address blocking settings.
func (s *Store) IPBlocking() ipblock.Settings { return s.blk.Settings() }

// SetIPBlocking replaces the per-address blocking settings and saves them
// with the accounts.
func (s *Store) SetIPBlocking(set ipblock.Settings) error {
	if err := set.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.blk.Settings()
	if err := s.blk.SetSettings(set); err != nil {
		return err
	}
	if err := s.save(); err != nil {
		_ = s.blk.SetSettings(old)
		return err
	}
	s.changed()
	return nil
}

// lockedLocked reports whether e is locked out. Only an account under a
// timed lockout reads the clock: every authenticated request asks (twice
// for Basic authentication), and on a virtual machine a clock read costs
// as much as the password digest. A lockout found over is cleared, so the
// next check skips the clock again.
func (s *Store) lockedLocked(e *entry) bool {
	if e.lockedHard {
		return true
	}
	if e.lockedUntil.IsZero() {
		return false
	}
	if s.now().Before(e.lockedUntil) {
		return true
	}
	e.lockedUntil = time.Time{}
	return false
}

func (s *Store) view(e *entry) Account {
	a := e.Account
	a.Locked = s.lockedLocked(e)
	return a
}

// Create adds an account, checking the password against the policy.
func (s *Store) Create(n New) (Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.create(n, true)
	if err != nil {
		return Account{}, err
	}
	if err := s.save(); err != nil {
		s.entries = slices.DeleteFunc(s.entries, func(e *entry) bool { return e.ID == a.ID })
		return Account{}, err
	}
	s.changed()
	return a, nil
}

func (s *Store) create(n New, policy bool) (Account, error) {
	if err := checkUserName(n.UserName); err != nil {
		return Account{}, err
	}
	if err := s.checkPassword(n.Password, policy); err != nil {
		return Account{}, err
	}
	if !validRole(n.Role) {
		return Account{}, fmt.Errorf("%w %q", ErrRole, n.Role)
	}
	if s.byName(n.UserName) != nil {
		return Account{}, fmt.Errorf("%w: %q", ErrExists, n.UserName)
	}
	id := n.ID
	switch {
	case id != 0 && (id < MinUserID || id >= MinUserID+MaxUsers || s.byID(id) != nil):
		return Account{}, fmt.Errorf("%w: %d", ErrIDTaken, id)
	case id == 0:
		for cand := MinUserID; cand < MinUserID+MaxUsers; cand++ {
			if s.byID(cand) == nil {
				id = cand
				break
			}
		}
		if id == 0 {
			return Account{}, fmt.Errorf("%w (%d)", ErrLimit, MaxUsers)
		}
	}
	e := &entry{Account: Account{ID: id, UserName: n.UserName, Role: n.Role, Enabled: n.Enabled, PasswordChangeRequired: n.PasswordChangeRequired}}
	e.setSecret(n.Password)
	s.entries = append(s.entries, e)
	slices.SortFunc(s.entries, func(a, b *entry) int { return a.ID - b.ID })
	return s.view(e), nil
}

func (e *entry) setSecret(pw string) {
	e.secret = []byte(pw)
	e.digest = sha256.Sum256(e.secret)
}

// Modify applies u to the account with id. Setting a password clears
// PasswordChangeRequired unless u sets it too.
func (s *Store) Modify(id int, u Update) (Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byID(id)
	if e == nil {
		return Account{}, ErrNotFound
	}
	next := *e
	if u.UserName != nil && *u.UserName != e.UserName {
		if err := checkUserName(*u.UserName); err != nil {
			return Account{}, err
		}
		if s.byName(*u.UserName) != nil {
			return Account{}, fmt.Errorf("%w: %q", ErrExists, *u.UserName)
		}
		next.UserName = *u.UserName
	}
	if u.Role != nil {
		if !validRole(*u.Role) {
			return Account{}, fmt.Errorf("%w %q", ErrRole, *u.Role)
		}
		next.Role = *u.Role
	}
	if u.Enabled != nil {
		next.Enabled = *u.Enabled
	}
	if u.Password != nil {
		if err := s.checkPassword(*u.Password, true); err != nil {
			return Account{}, err
		}
		next.setSecret(*u.Password)
		next.PasswordChangeRequired = false
	}
	if u.PasswordChangeRequired != nil {
		next.PasswordChangeRequired = *u.PasswordChangeRequired
	}
	if u.Locked != nil {
		if *u.Locked {
			return Account{}, fmt.Errorf("%w: accounts are locked by failed attempts, not by request", ErrPolicy)
		}
		next.lockedHard, next.lockedUntil, next.failures, next.bySource = false, time.Time{}, 0, nil
	}
	if e.Role == RoleAdministrator && e.Enabled && (next.Role != RoleAdministrator || !next.Enabled) && s.admins() == 1 {
		return Account{}, ErrLastAdmin
	}
	old := *e
	*e = next
	if err := s.save(); err != nil {
		*e = old
		return Account{}, err
	}
	s.changed()
	return s.view(e), nil
}

// Delete removes the account with id.
func (s *Store) Delete(id int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byID(id)
	if e == nil {
		return ErrNotFound
	}
	if e.Role == RoleAdministrator && e.Enabled && s.admins() == 1 {
		return ErrLastAdmin
	}
	old := s.entries
	s.entries = slices.DeleteFunc(slices.Clone(s.entries), func(x *entry) bool { return x.ID == id })
	if err := s.save(); err != nil {
		s.entries = old
		return err
	}
	s.changed()
	return nil
}

func (s *Store) admins() int {
	n := 0
	for _, e := range s.entries {
		if e.Role == RoleAdministrator && e.Enabled {
			n++
		}
	}
	return n
}

func (s *Store) byID(id int) *entry {
	for _, e := range s.entries {
		if e.ID == id {
			return e
		}
	}
	return nil
}

func (s *Store) byName(name string) *entry {
	for _, e := range s.entries {
		if e.UserName == name {
			return e
		}
	}
	return nil
}

func validRole(r string) bool { return slices.Contains(Roles(), r) }

// checkUserName enforces the IPMI-compatible name rules: 1..16 bytes of
// letters, digits, '.', '-' and '_', not starting with a digit or '-'.
func checkUserName(n string) error {
	if n == "" || len(n) > MaxUserNameLength {
		return fmt.Errorf("%w: %q must be 1 to %d characters", ErrUserName, n, MaxUserNameLength)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '.' ||
			i > 0 && (c >= '0' && c <= '9' || c == '-')
		if !ok {
			return fmt.Errorf("%w: %q: letters, digits, '.', '-' and '_' only, starting with a letter, '.' or '_'", ErrUserName, n)
		}
	}
	return nil
}

func (s *Store) checkPassword(pw string, policy bool) error {
	lo, hi := minPasswordFloor, MaxPasswordLimit
	if policy {
		lo, hi = s.policy.MinPasswordLength, s.policy.MaxPasswordLength
	}
	if len(pw) < lo || len(pw) > hi {
		return fmt.Errorf("%w: %d bytes, want %d..%d", ErrPasswordLength, len(pw), lo, hi)
	}
	return nil
}

// On-disk form.

type fileDoc struct {
	Version int    `json:"version"`
	Policy  Policy `json:"policy"`
	// IPBlocking is absent from files written before it existed: they
	// load with ipblock.DefaultSettings.
	IPBlocking *ipblock.Settings `json:"ip_blocking,omitempty"`
	Accounts   []fileEntry       `json:"accounts"`
}

type fileEntry struct {
	Account
	// Secret is nonce || AES-256-GCM(password), additional data the user id.
	Secret []byte `json:"secret"`
}

func (s *Store) load() (bool, error) {
	var doc fileDoc
	if err := (store.JSON{Path: s.path}).Load(&doc); err != nil {
		if errors.Is(err, store.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	if doc.Version != 1 {
		return false, fmt.Errorf("%s: unsupported version %d", s.path, doc.Version)
	}
	if err := doc.Policy.Validate(); err != nil {
		return false, fmt.Errorf("%s: %w", s.path, err)
	}
	s.policy = doc.Policy
	if doc.IPBlocking != nil {
		if err := s.blk.SetSettings(*doc.IPBlocking); err != nil {
			return false, fmt.Errorf("%s: %w", s.path, err)
		}
	}
	for _, fe := range doc.Accounts {
		pw, err := s.open(fe.Secret, fe.ID)
		if err != nil {
			return false, fmt.Errorf("%s: account %q: %w", s.path, fe.UserName, err)
		}
		e := &entry{Account: fe.Account}
		e.Locked = false
		e.setSecret(string(pw))
		s.entries = append(s.entries, e)
	}
	slices.SortFunc(s.entries, func(a, b *entry) int { return a.ID - b.ID })
	return true, nil
}

// save writes the whole store atomically; a no-op without a path.
func (s *Store) save() error {
	if s.path == "" {
		return nil
	}
	blocking := s.blk.Settings()
	doc := fileDoc{Version: 1, Policy: s.policy, IPBlocking: &blocking}
	for _, e := range s.entries {
		sealed, err := s.seal(e.secret, e.ID)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrPersist, err)
		}
		a := e.Account
		a.Locked = false
		doc.Accounts = append(doc.Accounts, fileEntry{Account: a, Secret: sealed})
	}
	if err := (store.JSON{Path: s.path}).Save(doc); err != nil {
		return fmt.Errorf("%w: %w", ErrPersist, err)
	}
	return nil
}

func (s *Store) aead() (cipher.AEAD, error) {
	b, err := aes.NewCipher(s.key)
	if err != nil {
		return nil, fmt.Errorf("cipher: %w", err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return g, nil
}

func (s *Store) seal(pw []byte, id int) ([]byte, error) {
	g, err := s.aead()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return g.Seal(nonce, nonce, pw, []byte(fmt.Sprint(id))), nil
}

func (s *Store) open(sealed []byte, id int) ([]byte, error) {
	g, err := s.aead()
	if err != nil {
		return nil, err
	}
	if len(sealed) < g.NonceSize() {
		return nil, errors.New("sealed password too short")
	}
	pw, err := g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], []byte(fmt.Sprint(id)))
	if err != nil {
		return nil, fmt.Errorf("unseal password (wrong key file?): %w", err)
	}
	return pw, nil
}

func loadOrCreateKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err == nil {
		if len(key) != 32 {
			return nil, fmt.Errorf("key file %s: %d bytes, want 32", path, len(key))
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	if err := store.WriteFileAtomic(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	return key, nil
}
