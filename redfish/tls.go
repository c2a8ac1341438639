package redfish

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
	"os"
	"path/filepath"
	"time"

	"github.com/bmcemu/bmcemu/platform/store"
)

// Certificate files in the state directory. A user who wants their own
// certificate puts its PEM pair at these paths (or loads it with
// tls.LoadX509KeyPair and skips this helper).
const (
	CertFile = "redfish-cert.pem"
	KeyFile  = "redfish-key.pem"
)

// LoadOrCreateCertificate returns the HTTPS certificate kept in stateDir,
// generating a self-signed ECDSA P-256 one on first use: valid for ten
// years for 127.0.0.1, ::1 and localhost, the key written atomically with
// mode 0600. A pair already there (generated earlier or the user's own) is
// used as is, so clients that pinned it keep working across restarts.
//
// Temporary files a crash left while writing either file are removed
// unread (one may hold a private key). A key without a certificate, which
// a crash between the two writes leaves, gets a new self-signed
// certificate for that key; the key file is never overwritten.
func LoadOrCreateCertificate(stateDir string) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(stateDir, CertFile), filepath.Join(stateDir, KeyFile)
	for _, p := range []string{keyPath, certPath} {
		if _, err := store.RemoveStaleTemps(p); err != nil {
			return tls.Certificate{}, fmt.Errorf("redfish: certificate: %w", err)
		}
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err == nil {
		return cert, nil
	}
	_, cerr := os.Stat(certPath)
	_, kerr := os.Stat(keyPath)
	if errors.Is(cerr, fs.ErrNotExist) && kerr == nil {
		return certifyKey(certPath, keyPath)
	}
	if !errors.Is(cerr, fs.ErrNotExist) || !errors.Is(kerr, fs.ErrNotExist) {
		// Something is there but unusable: do not overwrite a user's files.
		return tls.Certificate{}, fmt.Errorf("redfish: certificate %s / %s: %w", certPath, keyPath, err)
	}
	certPEM, keyPEM, err := selfSigned(time.Now())
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("redfish: generate certificate: %w", err)
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("redfish: state directory: %w", err)
	}
	// Key first: a crash between the writes leaves a key without a
	// certificate, which the next start certifies (certifyKey).
	if err := store.WriteFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("redfish: %w", err)
	}
	if err := store.WriteFileAtomic(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("redfish: %w", err)
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// certifyKey writes a self-signed certificate for the key at keyPath
// where no certificate is. An unreadable key is reported, not replaced:
// it may be the user's.
func certifyKey(certPath, keyPath string) (tls.Certificate, error) {
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("redfish: certificate key %s: %w", keyPath, err)
	}
	key, err := parseECKey(keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("redfish: key %s has no certificate %s and cannot be certified: %w", keyPath, certPath, err)
	}
	certPEM, err := certify(key, time.Now())
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("redfish: certify %s: %w", keyPath, err)
	}
	if err := store.WriteFileAtomic(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("redfish: %w", err)
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// parseECKey reads the PKCS #8 or SEC 1 ECDSA key of a PEM file.
func parseECKey(keyPEM []byte) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(keyPEM)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParseECPrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse key: %w", err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T key, want ECDSA", k)
	}
	return ec, nil
}

func selfSigned(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if certPEM, err = certify(key, now); err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// certify makes the self-signed certificate for key.
func certify(key *ecdsa.PrivateKey, now time.Time) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"bmcemu"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
