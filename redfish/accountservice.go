package redfish

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/bmcemu/bmcemu/platform/accounts"
	"github.com/bmcemu/bmcemu/platform/ipblock"
)

type accountService struct {
	odata
	ID                              string            `json:"Id"`
	Name                            string            `json:"Name"`
	Description                     string            `json:"Description"`
	ServiceEnabled                  bool              `json:"ServiceEnabled"`
	Status                          status            `json:"Status"`
	MinPasswordLength               int               `json:"MinPasswordLength"`
	MaxPasswordLength               int               `json:"MaxPasswordLength"`
	AccountLockoutThreshold         int               `json:"AccountLockoutThreshold"`
	AccountLockoutDuration          int               `json:"AccountLockoutDuration"`
	AccountLockoutCounterResetAfter int               `json:"AccountLockoutCounterResetAfter"`
	LocalAccountAuth                string            `json:"LocalAccountAuth"`
	HTTPBasicAuth                   string            `json:"HTTPBasicAuth"`
	SupportedAccountTypes           []string          `json:"SupportedAccountTypes"`
	Accounts                        link              `json:"Accounts"`
	Roles                           link              `json:"Roles"`
	Oem                             accountServiceOem `json:"Oem"`
}

// accountServiceOem is the AccountService's OEM section (DSP0266 clause
// 9.9, "OEM extensions": an object named for the vendor inside Oem). It
// holds the per-address blocking settings where real BMCs put theirs
// beside the DMTF lockout properties (Dell's AccountService has Oem.Dell
// with ByUserName and ByIPAddress lockout switches; iDRAC's IP blocking is
// its iDRAC.IPBlocking attribute group). No schema is published for it, so
// the object carries no @odata.type.
type accountServiceOem struct {
	Bmcemu bmcemuAccountService `json:"Bmcemu"`
}

type bmcemuAccountService struct {
	IPBlocking ipBlocking `json:"IPBlocking"`
}

// ipBlocking is ipblock.Settings on the wire, durations in whole seconds
// like the DMTF lockout properties beside it.
type ipBlocking struct {
	Enabled           bool `json:"Enabled"`
	FailCount         int  `json:"FailCount"`
	FailWindowSeconds int  `json:"FailWindowSeconds"`
	PenaltySeconds    int  `json:"PenaltySeconds"`
}

func (s *service) getAccountService(*request) (any, error) {
	p := s.accounts.Policy()
	ipb := s.accounts.IPBlocking()
	return accountService{
		odata:       odata{ID: pathAccountService, Type: typeAccountService},
		ID:          "AccountService",
		Name:        "Account Service",
		Description: "Local accounts of the BMC, shared by Redfish and IPMI (user names up to 16 characters, passwords up to 20 bytes, as IPMI requires)",
		// ServiceEnabled and Status describe the local account service.
		ServiceEnabled:                  true,
		Status:                          status{State: "Enabled", Health: "OK"},
		MinPasswordLength:               p.MinPasswordLength,
		MaxPasswordLength:               p.MaxPasswordLength,
		AccountLockoutThreshold:         p.LockoutThreshold,
		AccountLockoutDuration:          int(p.LockoutDuration / time.Second),
		AccountLockoutCounterResetAfter: int(p.LockoutCounterResetAfter / time.Second),
		LocalAccountAuth:                "Enabled",
		HTTPBasicAuth:                   "Enabled",
		SupportedAccountTypes:           []string{"Redfish", "IPMI"},
		Accounts:                        link{ID: pathAccounts},
		Roles:                           link{ID: pathRoles},
		Oem: accountServiceOem{Bmcemu: bmcemuAccountService{IPBlocking: ipBlocking{
			Enabled:           ipb.Enabled,
			FailCount:         ipb.FailCount,
			FailWindowSeconds: int(ipb.FailWindow / time.Second),
			PenaltySeconds:    int(ipb.Penalty / time.Second),
		}}},
	}, nil
}

type accountServicePatch struct {
	MinPasswordLength               *int `json:"MinPasswordLength" validate:"omitempty,min=1,max=20"`
	MaxPasswordLength               *int `json:"MaxPasswordLength" validate:"omitempty,min=1,max=20"`
	AccountLockoutThreshold         *int `json:"AccountLockoutThreshold" validate:"omitempty,min=0,max=1000"`
	AccountLockoutDuration          *int `json:"AccountLockoutDuration" validate:"omitempty,min=0,max=86400"`
	AccountLockoutCounterResetAfter *int `json:"AccountLockoutCounterResetAfter" validate:"omitempty,min=0,max=86400"`
	// Oem is decoded on its own (oemPatch), property by property.
	Oem json.RawMessage `json:"Oem"`
}

const ipBlockingPath = "Oem.Bmcemu.IPBlocking"

// oemPatch applies Oem.Bmcemu.IPBlocking from a PATCH to set. Anything else
// under Oem is an unknown property; each refused property is its own
// message, as decodeBody reports them at the top level.
func oemPatch(raw json.RawMessage, set *ipblock.Settings) []*apiError {
	var oem map[string]json.RawMessage
	if err := json.Unmarshal(raw, &oem); err != nil || oem == nil {
		return []*apiError{propErr(http.StatusBadRequest, "PropertyValueTypeError", "Oem", shortJSON(raw), "Oem")}
	}
	var problems []*apiError
	for _, k := range slices.Sorted(maps.Keys(oem)) {
		v := oem[k]
		if k != "Bmcemu" {
			problems = append(problems, propErr(http.StatusBadRequest, "PropertyUnknown", "Oem."+k, "Oem."+k))
			continue
		}
		var vendor map[string]json.RawMessage
		if err := json.Unmarshal(v, &vendor); err != nil || vendor == nil {
			problems = append(problems, propErr(http.StatusBadRequest, "PropertyValueTypeError", "Oem.Bmcemu", shortJSON(v), "Oem.Bmcemu"))
			continue
		}
		for _, k2 := range slices.Sorted(maps.Keys(vendor)) {
			v2 := vendor[k2]
			if k2 != "IPBlocking" {
				problems = append(problems, propErr(http.StatusBadRequest, "PropertyUnknown", "Oem.Bmcemu."+k2, "Oem.Bmcemu."+k2))
				continue
			}
			problems = append(problems, ipBlockingFields(v2, set)...)
		}
	}
	return problems
}

func ipBlockingFields(raw json.RawMessage, set *ipblock.Settings) []*apiError {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return []*apiError{propErr(http.StatusBadRequest, "PropertyValueTypeError", ipBlockingPath, shortJSON(raw), ipBlockingPath)}
	}
	var problems []*apiError
	seconds := func(name string, v json.RawMessage, lo, hi time.Duration, dst *time.Duration) {
		var n int
		if err := json.Unmarshal(v, &n); err != nil {
			problems = append(problems, propErr(http.StatusBadRequest, "PropertyValueTypeError", ipBlockingPath+"."+name, shortJSON(v), ipBlockingPath+"."+name))
			return
		}
		if d := time.Duration(n) * time.Second; d < lo || d > hi {
			problems = append(problems, propErr(http.StatusBadRequest, "PropertyValueOutOfRange", ipBlockingPath+"."+name, strconv.Itoa(n), ipBlockingPath+"."+name))
		} else {
			*dst = d
		}
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		v := fields[k]
		switch k {
		case "Enabled":
			if err := json.Unmarshal(v, &set.Enabled); err != nil || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
				problems = append(problems, propErr(http.StatusBadRequest, "PropertyValueTypeError", ipBlockingPath+".Enabled", shortJSON(v), ipBlockingPath+".Enabled"))
			}
		case "FailCount":
			var n int
			switch err := json.Unmarshal(v, &n); {
			case err != nil:
				problems = append(problems, propErr(http.StatusBadRequest, "PropertyValueTypeError", ipBlockingPath+".FailCount", shortJSON(v), ipBlockingPath+".FailCount"))
			case n < ipblock.MinFailCount || n > ipblock.MaxFailCount:
				problems = append(problems, propErr(http.StatusBadRequest, "PropertyValueOutOfRange", ipBlockingPath+".FailCount", strconv.Itoa(n), ipBlockingPath+".FailCount"))
			default:
				set.FailCount = n
			}
		case "FailWindowSeconds":
			seconds(k, v, ipblock.MinWindow, ipblock.MaxWindow, &set.FailWindow)
		case "PenaltySeconds":
			seconds(k, v, ipblock.MinPenalty, ipblock.MaxPenalty, &set.Penalty)
		default:
			problems = append(problems, propErr(http.StatusBadRequest, "PropertyUnknown", ipBlockingPath+"."+k, ipBlockingPath+"."+k))
		}
	}
	return problems
}

func (s *service) patchAccountService(r *request) (*response, error) {
	var in accountServicePatch
	d, err := decodeBody(r.body, &in, jsonNames(accountService{}))
	if err != nil {
		return nil, err
	}
	if len(d.present) == 0 {
		return nil, failAll(d.problems)
	}
	ipb := s.accounts.IPBlocking()
	if d.has("Oem") {
		if problems := oemPatch(in.Oem, &ipb); len(problems) > 0 {
			// A PATCH with a refused Oem setting changes none of them,
			// so a half-applied blocking policy never takes effect.
			delete(d.present, "Oem")
			d.problems = append(d.problems, problems...)
			if len(d.present) == 0 {
				return nil, failAll(d.problems)
			}
		}
	}
	p := s.accounts.Policy()
	set := func(name string, v *int, dst *int) {
		if d.has(name) {
			*dst = *v
		}
	}
	set("MinPasswordLength", in.MinPasswordLength, &p.MinPasswordLength)
	set("MaxPasswordLength", in.MaxPasswordLength, &p.MaxPasswordLength)
	set("AccountLockoutThreshold", in.AccountLockoutThreshold, &p.LockoutThreshold)
	if d.has("AccountLockoutDuration") {
		p.LockoutDuration = time.Duration(*in.AccountLockoutDuration) * time.Second
	}
	if d.has("AccountLockoutCounterResetAfter") {
		p.LockoutCounterResetAfter = time.Duration(*in.AccountLockoutCounterResetAfter) * time.Second
	}
	if err := s.accounts.SetPolicy(p); err != nil {
		if errors.Is(err, accounts.ErrPolicy) {
			// The values are each in range but contradict one another.
			return nil, newAPIError(http.StatusBadRequest, "PropertyValueConflict", "MinPasswordLength", "MaxPasswordLength")
		}
		return nil, err
	}
	if d.has("Oem") {
		if err := s.accounts.SetIPBlocking(ipb); err != nil {
			return nil, err
		}
	}
	return s.afterPatch(r, s.getAccountService, d)
}

type managerAccount struct {
	odata
	ID                     string              `json:"Id"`
	Name                   string              `json:"Name"`
	Description            string              `json:"Description"`
	UserName               string              `json:"UserName"`
	Password               *string             `json:"Password"` // always null on read
	RoleID                 string              `json:"RoleId"`
	Enabled                bool                `json:"Enabled"`
	Locked                 bool                `json:"Locked"`
	PasswordChangeRequired bool                `json:"PasswordChangeRequired"`
	AccountTypes           []string            `json:"AccountTypes"`
	Links                  managerAccountLinks `json:"Links"`
}

type managerAccountLinks struct {
	Role link `json:"Role"`
}

func accountPath(id int) string { return pathAccounts + "/" + strconv.Itoa(id) }
func rolePath(id string) string { return pathRoles + "/" + id }

func accountView(a accounts.Account) managerAccount {
	return managerAccount{
		odata:                  odata{ID: accountPath(a.ID), Type: typeManagerAccount},
		ID:                     strconv.Itoa(a.ID),
		Name:                   "User Account",
		Description:            "Account " + strconv.Itoa(a.ID) + " (also IPMI user ID " + strconv.Itoa(a.ID) + ")",
		UserName:               a.UserName,
		RoleID:                 a.Role,
		Enabled:                a.Enabled,
		Locked:                 a.Locked,
		PasswordChangeRequired: a.PasswordChangeRequired,
		AccountTypes:           []string{"Redfish", "IPMI"},
		Links:                  managerAccountLinks{Role: link{ID: rolePath(a.Role)}},
	}
}

// getAccounts lists every account: reading the collection needs only
// Login, but members other than one's own are then refused by privilege.
func (s *service) getAccounts(r *request) (any, error) {
	var members []link
	for _, a := range s.accounts.List() {
		if hasPrivilege(r.who.role, privConfigureUsers) || hasPrivilege(r.who.role, privConfigureManager) || a.ID == r.who.accountID {
			members = append(members, link{ID: accountPath(a.ID)})
		}
	}
	return newCollection(pathAccounts, typeAccountCollection, "Accounts Collection", members), nil
}

func (s *service) lookupAccount(r *request) (accounts.Account, error) {
	id, err := strconv.Atoi(r.param("account"))
	if err == nil && strconv.Itoa(id) == r.param("account") {
		if a, ok := s.accounts.Get(id); ok {
			return a, nil
		}
	}
	return accounts.Account{}, errResourceNotFound("ManagerAccount", r.param("account"))
}

func (s *service) isOwnAccount(r *request) bool {
	a, err := s.lookupAccount(r)
	return err == nil && r.authed && a.ID == r.who.accountID
}

func (s *service) getAccount(r *request) (any, error) {
	a, err := s.lookupAccount(r)
	if err != nil {
		return nil, err
	}
	return accountView(a), nil
}

type accountCreate struct {
	UserName               string `json:"UserName" validate:"required"`
	Password               string `json:"Password" validate:"required"`
	RoleID                 string `json:"RoleId" validate:"required,oneof=Administrator Operator ReadOnly"`
	Enabled                *bool  `json:"Enabled"`
	PasswordChangeRequired *bool  `json:"PasswordChangeRequired"`
	// Clients send the schema's required AccountTypes; only the account
	// types every account has are accepted.
	AccountTypes []string `json:"AccountTypes" validate:"omitempty,dive,oneof=Redfish IPMI"`
}

var accountReadOnly = []string{"Id", "Name", "Description", "Locked", "Links"}

func (s *service) postAccount(r *request) (*response, error) {
	var in accountCreate
	d, err := decodeBody(r.body, &in, accountReadOnly)
	if err != nil {
		return nil, err
	}
	if len(d.problems) > 0 {
		return nil, failAll(d.problems)
	}
	n := accounts.New{UserName: in.UserName, Password: in.Password, Role: in.RoleID, Enabled: true}
	if in.Enabled != nil {
		n.Enabled = *in.Enabled
	}
	if in.PasswordChangeRequired != nil {
		n.PasswordChangeRequired = *in.PasswordChangeRequired
	}
	a, err := s.accounts.Create(n)
	if err != nil {
		return nil, accountError(err, in.UserName)
	}
	s.publishLifecycle("ResourceCreated", accountPath(a.ID), "")
	return &response{status: http.StatusCreated, body: accountView(a), location: accountPath(a.ID)}, nil
}

// accountError maps the store's refusals to Base messages.
func accountError(err error, user string) error {
	switch {
	case errors.Is(err, accounts.ErrExists):
		return newAPIError(http.StatusConflict, "ResourceAlreadyExists", "ManagerAccount", "UserName", user)
	case errors.Is(err, accounts.ErrUserName):
		return propErr(http.StatusBadRequest, "PropertyValueFormatError", "UserName", user, "UserName")
	case errors.Is(err, accounts.ErrPasswordLength):
		return propErr(http.StatusBadRequest, "PasswordIncorrectLength", "Password")
	case errors.Is(err, accounts.ErrRole):
		return propErr(http.StatusBadRequest, "PropertyValueNotInList", "RoleId", "", "RoleId")
	case errors.Is(err, accounts.ErrLimit):
		return newAPIError(http.StatusBadRequest, "CreateLimitReachedForResource")
	case errors.Is(err, accounts.ErrLastAdmin):
		return newAPIError(http.StatusConflict, "ResourceInUse")
	case errors.Is(err, accounts.ErrPolicy):
		return propErr(http.StatusBadRequest, "PropertyValueNotInList", "Locked", "true", "Locked")
	case errors.Is(err, accounts.ErrNotFound):
		return errResourceNotFound("ManagerAccount", "")
	}
	return err
}

type accountPatch struct {
	UserName               *string `json:"UserName"`
	Password               *string `json:"Password"`
	RoleID                 *string `json:"RoleId" validate:"omitempty,oneof=Administrator Operator ReadOnly"`
	Enabled                *bool   `json:"Enabled"`
	Locked                 *bool   `json:"Locked"`
	PasswordChangeRequired *bool   `json:"PasswordChangeRequired"`
}

// patchAccount changes an account. Without ConfigureUsers a caller may
// change only its own Password (the registry's Password property
// override for ConfigureSelf).
func (s *service) patchAccount(r *request) (*response, error) {
	a, err := s.lookupAccount(r)
	if err != nil {
		return nil, err
	}
	var in accountPatch
	d, err := decodeBody(r.body, &in, append(accountReadOnly, "AccountTypes"))
	if err != nil {
		return nil, err
	}
	if !hasPrivilege(r.who.role, privConfigureUsers) {
		// Only the registry's Password PropertyOverride let the request
		// this far: a PATCH that sets no Password is an ordinary
		// ManagerAccount PATCH, which needs ConfigureUsers even when it
		// would change nothing.
		if !d.has("Password") {
			return nil, errInsufficientPrivilege()
		}
		for k := range d.present {
			if k != "Password" {
				return nil, errInsufficientPrivilege()
			}
		}
	}
	if len(d.present) == 0 {
		return nil, failAll(d.problems)
	}
	u := accounts.Update{}
	if d.has("UserName") {
		u.UserName = in.UserName
	}
	if d.has("Password") {
		u.Password = in.Password
	}
	if d.has("RoleId") {
		u.Role = in.RoleID
	}
	if d.has("Enabled") {
		u.Enabled = in.Enabled
	}
	if d.has("Locked") {
		u.Locked = in.Locked
	}
	if d.has("PasswordChangeRequired") {
		u.PasswordChangeRequired = in.PasswordChangeRequired
	}
	name := a.UserName
	if in.UserName != nil {
		name = *in.UserName
	}
	if _, err := s.accounts.Modify(a.ID, u); err != nil {
		return nil, accountError(err, name)
	}
	return s.afterPatch(r, s.getAccount, d)
}

func (s *service) deleteAccount(r *request) (*response, error) {
	a, err := s.lookupAccount(r)
	if err != nil {
		return nil, err
	}
	if err := s.accounts.Delete(a.ID); err != nil {
		return nil, accountError(err, a.UserName)
	}
	s.sessions.dropAccount(a.ID)
	s.publishLifecycle("ResourceRemoved", accountPath(a.ID), "")
	return &response{status: http.StatusNoContent}, nil
}

type role struct {
	odata
	ID                 string   `json:"Id"`
	Name               string   `json:"Name"`
	Description        string   `json:"Description"`
	RoleID             string   `json:"RoleId"`
	IsPredefined       bool     `json:"IsPredefined"`
	AssignedPrivileges []string `json:"AssignedPrivileges"`
	OemPrivileges      []string `json:"OemPrivileges"`
}

func (s *service) getRoles(*request) (any, error) {
	var members []link
	for _, id := range accounts.Roles() {
		members = append(members, link{ID: rolePath(id)})
	}
	return newCollection(pathRoles, typeRoleCollection, "Roles Collection", members), nil
}

func (s *service) getRole(r *request) (any, error) {
	id := r.param("role")
	privs := rolePrivileges(id)
	if privs == nil {
		return nil, errResourceNotFound("Role", id)
	}
	return role{
		odata:              odata{ID: rolePath(id), Type: typeRole},
		ID:                 id,
		Name:               id + " Role",
		Description:        "Predefined " + id + " role",
		RoleID:             id,
		IsPredefined:       true,
		AssignedPrivileges: privs,
		OemPrivileges:      []string{},
	}, nil
}
