package fleet

import (
	"crypto/x509"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestCAIssuesPerAddressAndPersists(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(again.PEM) != string(ca.PEM) {
		t.Fatal("a second start made a new CA instead of reading the saved one")
	}
	if st, err := os.Stat(filepath.Join(dir, CAKeyFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("CA key: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca.PEM) {
		t.Fatal("CA PEM does not parse")
	}
	a, b := netip.MustParseAddr("127.0.1.1"), netip.MustParseAddr("127.0.1.2")
	leaf, err := again.Leaf(a) // issued by the reloaded CA, verified by the first
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(leaf.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: a.String()}); err != nil {
		t.Errorf("%s's certificate does not verify for %s: %v", a, a, err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: b.String()}); err == nil {
		t.Errorf("%s's certificate verifies for %s too", a, b)
	}
	if same, _ := again.Leaf(a); same != leaf {
		t.Error("a second handshake on one address made a new certificate")
	}
}

func TestCARefusesHalfAPair(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, CAKeyFile), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCA(dir); err == nil {
		t.Error("a key without a certificate was replaced instead of refused")
	}
}
