package redfish

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A kill mid-save leaves a temporary copy of the subscriptions file (with
// its subscribers' Authorization headers); the service's start removes it
// unread and keeps the saved subscriptions.
func TestSubscriptionsRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	cfg := fastRetries()
	cfg.StateDir = dir
	h := newHandlerCfg(t, newPlatform(t), cfg)
	loc := subscribe(t, h, `{"Destination":"http://127.0.0.1:9/p","Protocol":"Redfish","Context":"keep"}`)
	h.(interface{ Close() error }).Close()
	stale := filepath.Join(dir, "."+subscriptionsFileName+".tmp-8080")
	if err := os.WriteFile(stale, []byte(`{"subscriptions":[{"HttpHeaders":`), 0o600); err != nil {
		t.Fatal(err)
	}
	h2 := newHandlerCfg(t, newPlatform(t), cfg)
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left after start (%v)", stale, err)
	}
	if sub := getJSON(t, h2, loc); sub["Context"] != "keep" {
		t.Errorf("after restart: %v", sub)
	}
}

// Temporary files of either certificate file are removed unread, and the
// pair is kept.
func TestLoadOrCreateCertificateRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	c1, err := LoadOrCreateCertificate(dir)
	if err != nil {
		t.Fatal(err)
	}
	stale := []string{filepath.Join(dir, "."+KeyFile+".tmp-1"), filepath.Join(dir, "."+CertFile+".tmp-2")}
	for _, p := range stale {
		if err := os.WriteFile(p, []byte("-----BEGIN PRIVATE KEY-----\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c2, err := LoadOrCreateCertificate(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left (%v)", p, err)
		}
	}
	if string(c1.Certificate[0]) != string(c2.Certificate[0]) {
		t.Error("certificate replaced")
	}
}

// The key is written before the certificate; a kill between the two
// leaves a key alone. The next start must come up (certifying that key),
// not refuse as it does for a damaged pair, and must not replace the key.
func TestLoadOrCreateCertificateKeyWithoutCert(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreateCertificate(dir); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, CertFile)); err != nil {
		t.Fatal(err)
	}
	c, err := LoadOrCreateCertificate(dir)
	if err != nil {
		t.Fatalf("start after a kill between key and certificate: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, KeyFile)); string(after) != string(key) {
		t.Error("key replaced")
	}
	again, err := LoadOrCreateCertificate(dir)
	if err != nil || string(again.Certificate[0]) != string(c.Certificate[0]) {
		t.Errorf("the new certificate was not kept: %v", err)
	}
	// A key that is not one (the user's, damaged) is reported, not replaced.
	if err := os.Remove(filepath.Join(dir, CertFile)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCertificate(dir); err == nil {
		t.Error("junk key certified")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, KeyFile)); string(b) != "junk" {
		t.Error("user's key overwritten")
	}
}
