package accounts

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A kill mid-save leaves ".accounts.json.tmp-*" (sealed secrets, perhaps
// of a since-deleted account) and, on first start, ".accounts.json.key.tmp-*".
// Open removes both without reading them and keeps the real files.
func TestOpenRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "accounts.json")
	s, err := Open(Options{Path: path, Seed: seed()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(New{UserName: "op", Password: "operator1", Role: RoleOperator, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	stale := []string{filepath.Join(dir, ".accounts.json.tmp-1234"), filepath.Join(dir, ".accounts.json.key.tmp-99")}
	for _, p := range stale {
		// Unparseable on purpose: reading one would fail the open.
		if err := os.WriteFile(p, []byte(`{"accounts":[{"UserName":"gone","secret":`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s2, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after open (%v)", p, err)
		}
	}
	if _, err := s2.Authenticate("op", "operator1"); err != nil {
		t.Errorf("accounts after cleanup: %v", err)
	}
}
