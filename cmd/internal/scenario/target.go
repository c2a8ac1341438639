package scenario

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bmcemu/bmcemu/platform/control"
)

// Target is the BMC a scenario runs against, through its real surfaces.
type Target struct {
	Control *control.Client
	Redfish *Redfish
	SEL     SELSource
	Clock   Clock
	// Profile is the profile the target runs (as it names itself).
	Profile string
	// OnClose, when set, releases what the target's maker holds (an
	// in-process BMC).
	OnClose func() error
}

// Close releases the target (an in-process BMC stops).
func (t *Target) Close() error {
	var errs []error
	if t.SEL != nil {
		errs = append(errs, t.SEL.Close())
	}
	if t.OnClose != nil {
		errs = append(errs, t.OnClose())
	}
	return errors.Join(errs...)
}

// RemoteConfig describes a running server, or a fleet member reached
// through the fleet's control listener.
type RemoteConfig struct {
	// URL serves the control API (and, for a lone server, Redfish).
	URL string
	// ServerID is a fleet member's id or address.
	ServerID       string
	User, Password string
	// Speed is the server's --speed: how much faster than the wall clock
	// its simulated time runs.
	Speed float64
	// CACert verifies an HTTPS member (the fleet CA); Insecure skips
	// verification.
	CACert   string
	Insecure bool
}

// NewRemote connects to a running server.
func NewRemote(ctx context.Context, cfg RemoteConfig) (*Target, error) {
	if cfg.Speed <= 0 {
		return nil, fmt.Errorf("target speed %v: must be greater than 0", cfg.Speed)
	}
	hc, err := httpClient(cfg)
	if err != nil {
		return nil, err
	}
	ctl := &control.Client{BaseURL: cfg.URL, Member: cfg.ServerID, User: cfg.User, Password: cfg.Password, HTTP: hc}
	t := &Target{Control: ctl}
	sys, err := ctl.System(ctx)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", cfg.URL, err)
	}
	t.Profile = sys.Profile
	user, pw := cfg.User, cfg.Password
	var ipmiHost string
	var ipmiPort int
	if cfg.ServerID != "" {
		// A member's own Redfish and IPMI addresses come from the fleet's
		// listing, which also resolves an address to its id.
		members, err := ctl.Servers(ctx)
		if err != nil {
			return nil, fmt.Errorf("target %s: list the fleet: %w", cfg.URL, err)
		}
		var m *control.ServerInfo
		for i := range members {
			if members[i].ID == cfg.ServerID || members[i].Address == cfg.ServerID {
				m = &members[i]
			}
		}
		if m == nil {
			return nil, fmt.Errorf("target %s: no member %q", cfg.URL, cfg.ServerID)
		}
		if len(m.Redfish) == 0 {
			return nil, fmt.Errorf("member %s serves no Redfish", m.ID)
		}
		u, err := url.Parse(m.Redfish[0])
		if err != nil {
			return nil, fmt.Errorf("member %s: Redfish URL %q: %w", m.ID, m.Redfish[0], err)
		}
		t.Redfish = &Redfish{BaseURL: u.Scheme + "://" + u.Host, User: user, Password: pw, HTTP: hc}
		h, p, err := net.SplitHostPort(m.IPMI)
		if err != nil {
			return nil, fmt.Errorf("member %s: IPMI address %q: %w", m.ID, m.IPMI, err)
		}
		ipmiHost = h
		if ipmiPort, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("member %s: IPMI port %q: %w", m.ID, p, err)
		}
	} else {
		u, err := url.Parse(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("target %q: %w", cfg.URL, err)
		}
		t.Redfish = &Redfish{BaseURL: strings.TrimRight(cfg.URL, "/"), User: user, Password: pw, HTTP: hc}
		ipmiHost = u.Hostname()
		if ipmiPort, err = discoverIPMIPort(ctx, t.Redfish); err != nil {
			return nil, err
		}
	}
	t.SEL = &IPMISEL{Host: ipmiHost, Port: ipmiPort, User: user, Password: pw}
	t.Clock = &paced{start: time.Now(), speed: cfg.Speed}
	return t, nil
}

// discoverIPMIPort reads the IPMI port from the Manager's
// NetworkProtocol, where the BMC reports it.
func discoverIPMIPort(ctx context.Context, rf *Redfish) (int, error) {
	var coll struct {
		Members []struct {
			ID string `json:"@odata.id"`
		} `json:"Members"`
	}
	if err := rf.Get(ctx, "/redfish/v1/Managers", &coll); err != nil {
		return 0, fmt.Errorf("find the IPMI port: %w", err)
	}
	if len(coll.Members) == 0 {
		return 0, errors.New("find the IPMI port: the service has no Manager")
	}
	var np struct {
		IPMI struct {
			ProtocolEnabled bool `json:"ProtocolEnabled"`
			Port            int  `json:"Port"`
		} `json:"IPMI"`
	}
	if err := rf.Get(ctx, coll.Members[0].ID+"/NetworkProtocol", &np); err != nil {
		return 0, fmt.Errorf("find the IPMI port: %w", err)
	}
	if !np.IPMI.ProtocolEnabled || np.IPMI.Port == 0 {
		return 0, errors.New("find the IPMI port: the Manager's NetworkProtocol reports IPMI disabled")
	}
	return np.IPMI.Port, nil
}

func httpClient(cfg RemoteConfig) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: cfg.Insecure} //nolint:gosec // the user asked for it (--insecure)
	if cfg.CACert != "" {
		pem, err := os.ReadFile(cfg.CACert)
		if err != nil {
			return nil, fmt.Errorf("CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA certificate %s: no PEM certificate in it", cfg.CACert)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}
