package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestJSONRoundTripAndNoLeftovers(t *testing.T) {
	dir := t.TempDir()
	j := JSON{Path: filepath.Join(dir, "sub", "doc.json")}
	var v map[string]int
	if err := j.Load(&v); !errors.Is(err, ErrNotExist) {
		t.Fatalf("load before save: %v", err)
	}
	for i := 0; i < 3; i++ {
		if err := j.Save(map[string]int{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Load(&v); err != nil || v["n"] != 2 {
		t.Fatalf("load: %v %v", v, err)
	}
	ents, _ := os.ReadDir(filepath.Dir(j.Path))
	if len(ents) != 1 {
		t.Fatalf("temp files left behind: %v", ents)
	}
	if err := os.WriteFile(j.Path, []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := j.Load(&v); err == nil {
		t.Fatal("corrupt document loaded without error")
	}
}

// A kill between CreateTemp and Rename leaves ".NAME.tmp-*" behind; the
// owner's open must remove exactly its own leftovers, unread, and leave the
// document and everybody else's files alone.
func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	j := JSON{Path: filepath.Join(dir, "accounts.json")}
	if err := j.Save(map[string]string{"user": "admin"}); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := []string{
		write(".accounts.json.tmp-123456789", `{"user":"deleted","secret":"c2VhbGVk"}`),
		write(".accounts.json.tmp-42", `{"tor`), // torn: never parsed
	}
	keep := []string{
		write(".accounts.json.key.tmp-77", "another store's leftover"),
		write(".accounts.json.tmp-", "not a name CreateTemp makes"),
		write("accounts.json.tmp-5", "not hidden: not ours"),
		write(".other.json.tmp-1", "another document's"),
	}
	// A directory with a matching name is nobody's temporary file.
	keepDir := filepath.Join(dir, ".accounts.json.tmp-9")
	if err := os.Mkdir(keepDir, 0o700); err != nil {
		t.Fatal(err)
	}
	keep = append(keep, keepDir)

	removed, err := j.RemoveStaleTemps()
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != len(stale) {
		t.Errorf("removed %v, want %v", removed, stale)
	}
	for _, p := range stale {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there (%v)", p, err)
		}
	}
	for _, p := range keep {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	var v map[string]string
	if err := j.Load(&v); err != nil || v["user"] != "admin" {
		t.Fatalf("document after cleanup: %v %v", v, err)
	}
	// Nothing left: a second open removes nothing and says so.
	if again, err := j.RemoveStaleTemps(); err != nil || len(again) != 0 {
		t.Fatalf("second cleanup: %v %v", again, err)
	}
}

func TestRemoveStaleTempsMissingDir(t *testing.T) {
	removed, err := RemoveStaleTemps(filepath.Join(t.TempDir(), "never", "made.json"))
	if err != nil || len(removed) != 0 {
		t.Fatalf("missing directory: %v %v", removed, err)
	}
}
