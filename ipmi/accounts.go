package ipmi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/protocol"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/bmcemu/bmcemu/platform/accounts"
	"github.com/bmcemu/bmcemu/platform/clock"
)

// Accounts is the shared account database IPMI follows live
// (*accounts.Store satisfies it). The user table go-ipmi authenticates
// against is rebuilt from it at every RAKP Message 1 (so a password change,
// a disabled account or an expired lockout takes effect on the next session)
// and before every user command when Generation moved.
type Accounts interface {
	List() []accounts.Account
	// Secret is the clear password RAKP keys its HMACs with; disabled and
	// locked-out accounts have none.
	Secret(user string) ([]byte, accounts.Account, bool)
	// RecordFailureFrom counts a failed RAKP authentication of user from
	// src towards the account's lockout and src's per-address blocking.
	RecordFailureFrom(src netip.Addr, user string)
	// RecordRefusalFrom notes a handshake from src refused on the user
	// name alone (RAKP Message 2 with an error status).
	RecordRefusalFrom(src netip.Addr, user string)
	// RefuseFrom is the check a handshake from src makes first: whether
	// src is blocked after repeated failed logins (counted for the
	// store's summary log).
	RefuseFrom(src netip.Addr) (time.Time, bool)
	Generation() uint64
}

// AccountWriter is the optional write side of Accounts. With it, Set User
// Name (create or rename), Set User Password (set, enable, disable) and
// Set User Access (privilege) write back to the store; without it they
// answer D5h.
type AccountWriter interface {
	Create(n accounts.New) (accounts.Account, error)
	Modify(id int, u accounts.Update) (accounts.Account, error)
	Policy() accounts.Policy
}

// The shared store is what serve hands the server: keep it a writer, or
// every ipmitool user command would quietly answer D5h.
var _ AccountWriter = (*accounts.Store)(nil)

// accountUsers is the IPMI user-ID range of the store: 2..16.
const accountUsers = accounts.MinUserID + accounts.MaxUsers - 1

// roleToPriv and privToRole map store roles onto IPMI channel privileges.
func roleToPriv(role string) bmc.PrivilegeLevel {
	switch role {
	case accounts.RoleAdministrator:
		return bmc.PrivilegeLevelAdministrator
	case accounts.RoleOperator:
		return bmc.PrivilegeLevelOperator
	}
	return bmc.PrivilegeLevelUser
}

func privToRole(p bmc.PrivilegeLevel) (string, bool) {
	switch p {
	case bmc.PrivilegeLevelAdministrator:
		return accounts.RoleAdministrator, true
	case bmc.PrivilegeLevelOperator:
		return accounts.RoleOperator, true
	case bmc.PrivilegeLevelUser:
		return accounts.RoleReadOnly, true
	}
	return "", false
}

// liveUsers keeps go-ipmi's user table in step with Accounts and reports
// failed handshakes to it.
type liveUsers struct {
	acc   Accounts
	users *bmc.UserStore
	log   *slog.Logger

	clk clock.Clock

	mu     sync.Mutex
	gen    uint64
	synced bool
	// Handshakes in flight: BMC session ID -> user named in RAKP1, and the
	// console session ID -> BMC session ID pairing from Open Session.
	byBMC     map[uint32]*handshake
	byConsole map[uint32]uint32

	// IPMI v1.5 (only when enabled): handshakes in flight by console
	// address and port, from Get Session Challenge to Activate Session.
	v15      bool
	v15Asked map[string]*handshake
}

// handshake is one RAKP exchange for a known user name.
type handshake struct {
	user     string
	src      netip.Addr // the console's address: failures count against it
	answered bool       // RAKP3 arrived: its outcome decides
}

// abandonAfter is how long after a successful RAKP2 the console has to send
// RAKP3. ipmitool and freeipmi send nothing at all when RAKP2's HMAC does
// not match their password, so a handshake left there is counted as a
// failed login; RAKP3 normally follows within milliseconds.
const abandonAfter = 10 * time.Second

// maxHandshakes bounds the in-flight handshake memo; abandoned handshakes
// are forgotten wholesale when it fills.
const maxHandshakes = 256

func newLiveUsers(acc Accounts, users *bmc.UserStore, clk clock.Clock, log *slog.Logger) *liveUsers {
	return &liveUsers{acc: acc, users: users, clk: clk, log: log,
		byBMC: map[uint32]*handshake{}, byConsole: map[uint32]uint32{},
		v15Asked: map[string]*handshake{}}
}

// sync rebuilds the user table from the store; unless force, only when the
// store's generation moved.
func (l *liveUsers) sync(force bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	gen := l.acc.Generation()
	if !force && l.synced && gen == l.gen {
		return
	}
	l.gen, l.synced = gen, true
	list := l.acc.List()
	want := map[uint8]accounts.Account{}
	for _, a := range list {
		if a.ID >= accounts.MinUserID && a.ID <= accountUsers {
			want[uint8(a.ID)] = a
		}
	}
	// Pass 1: free the slots that are gone or renamed, so pass 2 never
	// trips over a name still held by another slot.
	for id := uint8(2); id <= accountUsers; id++ {
		u, err := l.users.Get(id)
		if err != nil {
			continue
		}
		a, ok := want[id]
		switch {
		case !ok:
			_ = l.users.Delete(id)
		case a.UserName != u.Name:
			_ = l.users.Update(id, func(u *bmc.User) error { u.Name = ""; return nil })
		}
	}
	for id, a := range want {
		secret, _, usable := l.acc.Secret(a.UserName)
		err := l.users.Upsert(id, func(u *bmc.User) error {
			u.Name = a.UserName
			if usable {
				u.SetPassword(secret)
			} else {
				u.SetPassword(nil)
			}
			u.Enabled = a.Enabled && usable
			u.ChannelAccess[lanChannel] = bmc.UserChannelAccess{MaxPrivilege: roleToPriv(a.Role), Enabled: true}
			return nil
		})
		if err != nil {
			l.log.Warn("account not usable over IPMI", "user", a.UserName, "id", a.ID, "err", err)
		}
	}
}

// Handshake payload types (v2.0 Table 13-16).
const (
	payloadOpenSessionReq  = 0x10
	payloadOpenSessionResp = 0x11
	payloadRAKP1           = 0x12
	payloadRAKP2           = 0x13
	payloadRAKP3           = 0x14
	payloadRAKP4           = 0x15
)

// rakpInsufficientResources is RMCP+ status 01h, "insufficient resources
// to create a session" (v2.0 Table 13-15): the answer to a handshake from
// an address blocked after repeated failed logins. The table has no code
// for "refused by policy"; 01h says "not now" without blaming the
// credentials (which were not looked at), and ipmitool gives up on it
// rather than retrying ("Error in open session response message:
// insufficient resources for session").
const rakpInsufficientResources = 0x01

// handshakePayload returns the payload type and body of a pre-session
// RMCP+ packet.
func handshakePayload(pkt []byte) (uint8, []byte, bool) {
	if len(pkt) < 16 || pkt[3]&0x1F != 0x07 || pkt[4] != 0x06 {
		return 0, nil, false
	}
	sid, _, typ, _, payload, ok := protocol.ParseRMCPPlusHeader(pkt)
	if !ok || sid != 0 {
		return 0, nil, false
	}
	return typ, payload, true
}

// sourceAddr is the IP address a datagram came from, or the zero Addr.
func sourceAddr(a net.Addr) netip.Addr {
	if ua, ok := a.(*net.UDPAddr); ok {
		return ua.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// inbound watches a packet from addr before go-ipmi sees it. A session
// handshake from an address blocked after repeated failed logins is
// answered here, with reply, and never reaches go-ipmi (handled is then
// true and reply may be nil: nothing to say).
func (l *liveUsers) inbound(pkt []byte, addr net.Addr) (reply []byte, handled bool) {
	typ, p, ok := handshakePayload(pkt)
	if !ok {
		if l.v15 {
			return l.inboundV15(pkt, addr)
		}
		return nil, false
	}
	switch typ {
	case payloadOpenSessionReq:
		// tag, requested max privilege, reserved(2), console session
		// ID(4), algorithm payloads. Refusing here spares the blocked
		// address a session slot too.
		if len(p) < 8 {
			return nil, false
		}
		if _, blocked := l.acc.RefuseFrom(sourceAddr(addr)); !blocked {
			return nil, false
		}
		// tag, status, max privilege, reserved, console session ID: an
		// error response stops after the console's ID (v2.0 Table 13-10).
		resp := []byte{p[0], rakpInsufficientResources, 0, 0, p[4], p[5], p[6], p[7]}
		return protocol.BuildRMCPPlusPacket(payloadOpenSessionResp, 0, 0, 0, resp), true
	case payloadRAKP1:
		// tag, reserved(3), BMC session ID(4), console random(16), role,
		// reserved(2), name length, name.
		if len(p) < 28 {
			return nil, false
		}
		src := sourceAddr(addr)
		bmcID := binary.LittleEndian.Uint32(p[4:8])
		if _, blocked := l.acc.RefuseFrom(src); blocked {
			// Blocked between Open Session and RAKP 1 (or a session
			// opened beforehand): RAKP 2 with the same status, to the
			// console's session ID the Open Session Response named.
			console, known := l.consoleOf(bmcID)
			if !known {
				return nil, true
			}
			resp := make([]byte, 8)
			resp[0], resp[1] = p[0], rakpInsufficientResources
			binary.LittleEndian.PutUint32(resp[4:8], console)
			return protocol.BuildRMCPPlusPacket(payloadRAKP2, 0, 0, 0, resp), true
		}
		l.sync(true)
		n := int(p[27])
		if n == 0 || len(p) < 28+n {
			return nil, false
		}
		l.remember(bmcID, string(p[28:28+n]), src)
	case payloadRAKP3:
		// tag, status, reserved(2), BMC session ID(4): a non-zero status is
		// the console rejecting RAKP2, i.e. a password mismatch.
		if len(p) < 8 {
			return nil, false
		}
		bmcID := binary.LittleEndian.Uint32(p[4:8])
		if p[1] != 0 {
			l.failed(bmcID, p[1])
			return nil, false
		}
		l.mu.Lock()
		if h := l.byBMC[bmcID]; h != nil {
			h.answered = true
		}
		l.mu.Unlock()
	}
	return nil, false
}

// consoleOf is the console session ID the Open Session Response paired
// with BMC session ID bmcID.
func (l *liveUsers) consoleOf(bmcID uint32) (uint32, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for console, id := range l.byConsole {
		if id == bmcID {
			return console, true
		}
	}
	return 0, false
}

// outbound watches a packet go-ipmi sends to addr.
func (l *liveUsers) outbound(pkt []byte, addr net.Addr) {
	typ, p, ok := handshakePayload(pkt)
	if !ok {
		if l.v15 {
			l.outboundV15(pkt, addr)
		}
		return
	}
	switch typ {
	case payloadOpenSessionResp:
		// tag, status, max priv, reserved, console ID(4), BMC ID(4).
		if len(p) >= 12 && p[1] == 0 {
			l.mu.Lock()
			if len(l.byConsole) >= maxHandshakes {
				clear(l.byConsole)
			}
			l.byConsole[binary.LittleEndian.Uint32(p[4:8])] = binary.LittleEndian.Uint32(p[8:12])
			l.mu.Unlock()
		}
	case payloadRAKP2:
		// tag, status, reserved(2), console ID(4). Only a handshake the BMC
		// accepted (known, enabled, unlocked user) can fail on the password.
		if len(p) < 8 {
			return
		}
		l.mu.Lock()
		bmcID, ok := l.byConsole[binary.LittleEndian.Uint32(p[4:8])]
		h := l.byBMC[bmcID]
		if !ok || h == nil {
			l.mu.Unlock()
			return
		}
		if p[1] != 0 {
			// Refused on the name (unknown, disabled or locked out): no
			// password was tried, but an unknown name is a failed login
			// of the address's.
			delete(l.byBMC, bmcID)
			l.mu.Unlock()
			l.acc.RecordRefusalFrom(h.src, h.user)
			return
		}
		l.mu.Unlock()
		l.clk.AfterFunc(abandonAfter, func() {
			l.mu.Lock()
			abandoned := l.byBMC[bmcID] == h && !h.answered
			l.mu.Unlock()
			if abandoned {
				l.failed(bmcID, 0)
			}
		})
	case payloadRAKP4:
		// tag, status, reserved(2), console ID(4).
		if len(p) < 8 {
			return
		}
		l.mu.Lock()
		console := binary.LittleEndian.Uint32(p[4:8])
		bmcID, ok := l.byConsole[console]
		delete(l.byConsole, console)
		l.mu.Unlock()
		if !ok {
			return
		}
		// 0Dh: the console's RAKP3 HMAC did not match (or the account is
		// disabled); 0Fh: a malformed RAKP3 integrity value.
		if p[1] == 0x0D || p[1] == 0x0F {
			l.failed(bmcID, p[1])
			return
		}
		l.mu.Lock()
		delete(l.byBMC, bmcID)
		l.mu.Unlock()
	}
}

func (l *liveUsers) remember(bmcID uint32, user string, src netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.byBMC) >= maxHandshakes {
		clear(l.byBMC)
	}
	l.byBMC[bmcID] = &handshake{user: user, src: src}
}

func (l *liveUsers) failed(bmcID uint32, status byte) {
	l.mu.Lock()
	h, ok := l.byBMC[bmcID]
	delete(l.byBMC, bmcID)
	l.mu.Unlock()
	if !ok {
		return
	}
	// One line per failure: per-address blocking bounds them per address
	// (FailCount per FailWindow), and refusals of a blocked address or a
	// locked account are the store's summaries, not lines here.
	l.log.Info("IPMI authentication failed", "user", h.user, "remote", h.src.String(), "rakp_status", status)
	l.acc.RecordFailureFrom(h.src, h.user)
}

// tapConn is the server socket with the handshake's outbound half watched;
// sessionConn shows the inbound half (every datagram read, with its
// source) to live.inbound.
type tapConn struct {
	*net.UDPConn
	live *liveUsers
}

func (c tapConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.live.outbound(b, addr)
	return c.UDPConn.WriteTo(b, addr)
}

// accountCode maps a store error to a completion code.
func accountCode(err error) types.CompletionCode {
	switch {
	case err == nil:
		return types.CodeOK
	case errors.Is(err, accounts.ErrLastAdmin), errors.Is(err, accounts.ErrPersist):
		return types.CodeNotSupported // D5h: not in the present state
	case errors.Is(err, accounts.ErrNotFound), errors.Is(err, accounts.ErrPasswordLength),
		errors.Is(err, accounts.ErrUserName), errors.Is(err, accounts.ErrExists), errors.Is(err, accounts.ErrRole),
		errors.Is(err, accounts.ErrIDTaken):
		return types.CodeRequestDataFieldInvalid
	}
	return types.CodeUnspecifiedError
}

// userCommands are the user-management handlers over a live store; the
// read commands (Get User Access, Get User Name) stay go-ipmi's, reading a
// table synced first.
func userCommands(l *liveUsers, w AccountWriter, log *slog.Logger) []command {
	fallback := handlers.NewRegistry()
	handlers.RegisterUserHandlers(fallback)
	synced := func(c types.Command) handlers.HandlerFunc {
		return func(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
			l.sync(false)
			return fallback.Dispatch(ctx, hctx, uint8(c.NetFn), c.ID, req)
		}
	}
	user, admin := bmc.PrivilegeLevelUser, bmc.PrivilegeLevelAdministrator
	cmds := []command{
		{types.CommandGetUserAccess, user, synced(types.CommandGetUserAccess)},
		{types.CommandGetUsername, user, synced(types.CommandGetUsername)},
	}
	if w == nil {
		return append(cmds,
			command{types.CommandSetUsername, admin, readOnlyAccounts},
			command{types.CommandSetUserPassword, admin, readOnlyAccounts},
			command{types.CommandSetUserAccess, admin, readOnlyAccounts})
	}
	return append(cmds,
		command{types.CommandSetUsername, admin, handleSetUserName(l, w, log)},
		command{types.CommandSetUserPassword, admin, handleSetUserPassword(l, w, synced(types.CommandSetUserPassword), log)},
		command{types.CommandSetUserAccess, admin, handleSetUserAccess(l, w, log)})
}

func readOnlyAccounts(context.Context, *handlers.HandlerContext, []byte) ([]byte, types.CompletionCode, error) {
	return nil, types.CodeNotSupported, nil
}

// handleSetUserName (App 45h): renames an existing account, or names an
// empty user ID into a new one, which is how ipmitool creates users ("user
// set name 5 bob", then password, privilege and enable). Like a new user
// on a BMC it starts disabled and with the least privilege the store has
// (ReadOnly, shown as USER); its password is random and unknown rather
// than the null password IPMI would give it, so enabling it before "user
// set password" lets nobody in.
func handleSetUserName(l *liveUsers, w AccountWriter, log *slog.Logger) handlers.HandlerFunc {
	return func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) < 1+bmc.MaxUserNameLen {
			return nil, types.CodeRequestDataTruncated, nil
		}
		if len(req) > 1+bmc.MaxUserNameLen {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		id := int(req[0] & 0x3f)
		if id < accounts.MinUserID || id > accountUsers {
			return nil, types.CodeParameterOutOfRange, nil
		}
		name := string(bytes.TrimRight(req[1:], "\x00"))
		if name == "" || !printableASCII(name) {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		var err error
		if l.exists(id) {
			_, err = w.Modify(id, accounts.Update{UserName: &name})
		} else {
			_, err = w.Create(accounts.New{ID: id, UserName: name, Password: placeholderPassword(w.Policy().MaxPasswordLength),
				Role: accounts.RoleReadOnly})
		}
		l.sync(true)
		if err != nil {
			log.Info("Set User Name refused", "id", id, "err", err)
		}
		return nil, accountCode(err), nil
	}
}

// placeholderPassword is n (at most 26) random characters: a password
// nobody knows, for an account created before it has one.
func placeholderPassword(n int) string { return rand.Text()[:min(n, 26)] }

func (l *liveUsers) exists(id int) bool {
	for _, a := range l.acc.List() {
		if a.ID == id {
			return true
		}
	}
	return false
}

// Set User Password operations (Table 22-33).
const (
	pwDisable = 0x00
	pwEnable  = 0x01
	pwSet     = 0x02
	pwTest    = 0x03
)

// handleSetUserPassword (App 47h): set, enable and disable write to the
// store; test compares against the synced table.
func handleSetUserPassword(l *liveUsers, w AccountWriter, test handlers.HandlerFunc, log *slog.Logger) handlers.HandlerFunc {
	return func(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) < 2 {
			return nil, types.CodeRequestDataTruncated, nil
		}
		id := int(req[0] & 0x3f)
		if id < accounts.MinUserID || id > accountUsers || req[1]&^0x03 != 0 {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		op := req[1] & 0x03
		size := 16
		if req[0]&0x80 != 0 {
			size = 20
		}
		if op == pwTest {
			return test(ctx, hctx, req)
		}
		var u accounts.Update
		switch op {
		case pwSet:
			if len(req) < 2+size {
				return nil, types.CodeRequestDataTruncated, nil
			}
			if len(req) > 2+size {
				return nil, types.CodeRequestDataLengthInvalid, nil
			}
			pw := string(bytes.TrimRight(req[2:], "\x00"))
			if strings.ContainsRune(pw, 0) {
				return nil, types.CodeRequestDataFieldInvalid, nil
			}
			u.Password = &pw
		case pwEnable, pwDisable:
			on := op == pwEnable
			u.Enabled = &on
		}
		_, err := w.Modify(id, u)
		l.sync(true)
		if err != nil {
			log.Info("Set User Password refused", "id", id, "operation", op, "err", err)
		}
		return nil, accountCode(err), nil
	}
}

// handleSetUserAccess (App 43h): the privilege limit becomes the account's
// role. Per-channel flags (callback only, link auth, IPMI messaging) are
// not kept: the store has no per-channel settings.
func handleSetUserAccess(l *liveUsers, w AccountWriter, log *slog.Logger) handlers.HandlerFunc {
	return func(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		if len(req) < 3 {
			return nil, types.CodeRequestDataTruncated, nil
		}
		if len(req) > 4 {
			return nil, types.CodeRequestDataLengthInvalid, nil
		}
		ch := req[0] & 0x0f
		if ch != lanChannel && ch != 0x0e {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		id := int(req[1] & 0x3f)
		if id < accounts.MinUserID || id > accountUsers {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		if len(req) == 4 && req[3]&0x0f != 0 {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		role, ok := privToRole(bmc.PrivilegeLevel(req[2] & 0x0f))
		if !ok {
			return nil, types.CodeRequestDataFieldInvalid, nil
		}
		_, err := w.Modify(id, accounts.Update{Role: &role})
		l.sync(true)
		if err != nil {
			log.Info("Set User Access refused", "id", id, "err", err)
		}
		return nil, accountCode(err), nil
	}
}

// IPMI v1.5 session set-up (v2.0 section 22.16, 22.17; v1.5 Table 12-4):
// Get Session Challenge names the user and returns a temporary session ID,
// Activate Session proves the password with an AuthCode (MD5 here) under
// that ID. go-ipmi answers a wrong AuthCode with completion code 85h
// (invalid session ID), unauthenticated, under the temporary ID.
const (
	cmdGetSessionChallenge = 0x39
	cmdActivateSession     = 0x3A
	netFnApp               = 0x06
	ccV15InvalidSessionID  = 0x85
	// ccNodeBusy (C0h, v2.0 Table 5-2: "command processing resources are
	// temporarily unavailable") answers a v1.5 Get Session Challenge from
	// a blocked address: the v1.5 twin of RMCP+ status 01h.
	ccNodeBusy = 0xC0
)

// v15Packet splits an IPMI v1.5 LAN packet (RMCP class IPMI, any
// authentication type but the RMCP+ format 06h) into its session header
// and IPMI message.
func v15Packet(pkt []byte) (*types.SessionHeader15, []byte, bool) {
	if len(pkt) < 14 || pkt[3]&0x1F != 0x07 || pkt[4] == 0x06 {
		return nil, nil, false
	}
	var sess types.Session15
	if err := sess.Unpack(pkt[4:]); err != nil || sess.SessionHeader15 == nil {
		return nil, nil, false
	}
	return sess.SessionHeader15, sess.Payload, true
}

// inboundV15 is inbound for IPMI v1.5 packets: a Get Session Challenge
// from a blocked address is answered C0h here; otherwise its user name is
// noted, with the user table synced first so the challenge sees the
// store's current passwords.
func (l *liveUsers) inboundV15(pkt []byte, addr net.Addr) ([]byte, bool) {
	hdr, msg, ok := v15Packet(pkt)
	if !ok || hdr.SessionID != 0 {
		return nil, false
	}
	netFn, cmd, data, seq, ok := protocol.ParseIPMIRequest(msg)
	if !ok || netFn != netFnApp || cmd != cmdGetSessionChallenge || len(data) < 17 {
		return nil, false
	}
	src := sourceAddr(addr)
	if _, blocked := l.acc.RefuseFrom(src); blocked {
		resp := protocol.BuildIPMIResponse(netFn, cmd, seq, ccNodeBusy, nil)
		h := types.SessionHeader15{AuthType: types.AuthTypeNone, PayloadLength: uint8(len(resp))}
		out := append([]byte{pkt[0], pkt[1], 0xFF, pkt[3]}, h.Pack()...)
		return append(out, resp...), true
	}
	l.sync(true)
	user := string(bytes.TrimRight(data[1:17], "\x00"))
	l.mu.Lock()
	if len(l.v15Asked) >= maxHandshakes {
		clear(l.v15Asked)
	}
	l.v15Asked[addr.String()] = &handshake{user: user, src: src}
	l.mu.Unlock()
	return nil, false
}

// outboundV15 follows go-ipmi's v1.5 answers to the console at addr: a
// challenge refused on the name is a refusal, an Activate Session refused
// with 85h a failed login. (That refusal goes out under session ID 0, not
// the temporary one, so the handshake is known by the console's address
// and port, one handshake at a time per console socket.)
func (l *liveUsers) outboundV15(pkt []byte, addr net.Addr) {
	_, msg, ok := v15Packet(pkt)
	// rqSA, netFn/LUN, checksum, rsSA, rqSeq/LUN, cmd, completion code,
	// data, checksum.
	if !ok || len(msg) < 8 || msg[1]>>2 != netFnApp|1 {
		return
	}
	cmd, cc := msg[5], msg[6]
	if cmd != cmdGetSessionChallenge && cmd != cmdActivateSession {
		return
	}
	key := addr.String()
	l.mu.Lock()
	h := l.v15Asked[key]
	if cmd == cmdActivateSession || cc != 0 {
		// The handshake is over: activated, or refused.
		delete(l.v15Asked, key)
	}
	l.mu.Unlock()
	switch {
	case h == nil || cc == 0:
	case cmd == cmdGetSessionChallenge:
		// Refused on the name: as RAKP 2 with an error status.
		l.acc.RecordRefusalFrom(h.src, h.user)
	case cc == ccV15InvalidSessionID:
		l.log.Info("IPMI v1.5 authentication failed", "user", h.user, "remote", h.src.String())
		l.acc.RecordFailureFrom(h.src, h.user)
	}
}
