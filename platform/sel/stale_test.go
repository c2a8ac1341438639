package sel

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A kill during compaction leaves ".sel.journal.tmp-*"; Open removes it
// unread and replays the journal as it was.
func TestOpenRemovesStaleCompactionTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	s, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(memEvent(1, 3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "."+FileName+".tmp-31337")
	if err := os.WriteFile(stale, []byte("half a snapshot"), 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, Options{Path: path})
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left after open (%v)", stale, err)
	}
	if n := len(s2.Entries()); n != 1 {
		t.Errorf("%d entries after reopen, want 1", n)
	}
}
