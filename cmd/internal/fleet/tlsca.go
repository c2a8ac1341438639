package fleet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bmcemu/bmcemu/platform/store"
)

// CA files in the fleet's state directory.
const (
	CACertFile = "ca.pem"
	CAKeyFile  = "ca-key.pem"
)

// CA issues every member address its own HTTPS certificate, as each real
// BMC has its own: a client that trusts the fleet's CA (ca.pem) verifies
// whichever member it talks to by address, the way Ironic's
// redfish_verify_ca or curl --cacert do, and a self-signed certificate
// shared by all members would fail that check on every address but one.
// Leaves are made on a member's first TLS handshake, so an idle member
// costs none.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// PEM is the CA certificate, for clients to trust.
	PEM []byte

	mu     sync.Mutex
	leaves map[netip.Addr]*tls.Certificate
}

// LoadOrCreateCA reads the CA kept in dir, or makes one (ECDSA P-256, ten
// years) and keeps it there, the key written atomically with mode 0600. An
// empty dir keeps it in memory only.
func LoadOrCreateCA(dir string) (*CA, error) {
	if dir != "" {
		certPEM, cerr := os.ReadFile(filepath.Join(dir, CACertFile))
		keyPEM, kerr := os.ReadFile(filepath.Join(dir, CAKeyFile))
		switch {
		case cerr == nil && kerr == nil:
			return parseCA(certPEM, keyPEM)
		case !errors.Is(cerr, fs.ErrNotExist) || !errors.Is(kerr, fs.ErrNotExist):
			return nil, fmt.Errorf("fleet CA in %s: one of %s and %s is missing or unreadable (%v; %v): fix or remove them", dir, CACertFile, CAKeyFile, cerr, kerr)
		}
	}
	certPEM, keyPEM, err := newCA(time.Now())
	if err != nil {
		return nil, fmt.Errorf("fleet CA: %w", err)
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("fleet CA: %w", err)
		}
		// Key first: a crash between the writes leaves a key without a
		// certificate, which LoadOrCreateCA refuses rather than replaces.
		if err := store.WriteFileAtomic(filepath.Join(dir, CAKeyFile), keyPEM, 0o600); err != nil {
			return nil, fmt.Errorf("fleet CA: %w", err)
		}
		if err := store.WriteFileAtomic(filepath.Join(dir, CACertFile), certPEM, 0o644); err != nil {
			return nil, fmt.Errorf("fleet CA: %w", err)
		}
	}
	return parseCA(certPEM, keyPEM)
}

func newCA(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: "bmcemu fleet CA", Organization: []string{"bmcemu"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

func parseCA(certPEM, keyPEM []byte) (*CA, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("fleet CA: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("fleet CA: %w", err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !cert.IsCA {
		return nil, errors.New("fleet CA: want an ECDSA CA certificate and key")
	}
	return &CA{cert: cert, key: key, PEM: certPEM, leaves: map[netip.Addr]*tls.Certificate{}}, nil
}

func randSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// TLSConfig serves each connection the certificate of the address it
// reached.
func (ca *CA) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		a, err := netip.ParseAddrPort(hello.Conn.LocalAddr().String())
		if err != nil {
			return nil, fmt.Errorf("fleet CA: local address %s: %w", hello.Conn.LocalAddr(), err)
		}
		return ca.Leaf(a.Addr().Unmap())
	}}
}

// Leaf is the certificate for addr (made once, then kept).
func (ca *CA) Leaf(addr netip.Addr) (*tls.Certificate, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if c := ca.leaves[addr]; c != nil {
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: addr.String(), Organization: []string{"bmcemu"}},
		NotBefore:    now.Add(-time.Hour),
		// Within the 398 days clients cap server certificates at.
		NotAfter:    now.AddDate(1, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{addr.AsSlice()},
	}
	if addr.IsLoopback() {
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("fleet CA: issue for %s: %w", addr, err)
	}
	c := &tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key}
	ca.leaves[addr] = c
	return c, nil
}
