package ipmi

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/bougou/go-ipmi/pkg/types"
)

func TestPEFConfigSavedAndRolledBack(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, pefFile)
	p := newPEF(nil, slog.New(slog.DiscardHandler), 0)
	if err := p.load(path); err != nil {
		t.Fatal(err)
	}
	if cc, ok := p.setLANAlertParam(lanDestAddresses, []byte{1, 0, 0, 127, 0, 0, 9, 0, 0, 0, 0, 0, 0}); !ok || cc != types.CodeOK {
		t.Fatalf("set destination address: %#x %v", cc, ok)
	}
	q := newPEF(nil, slog.New(slog.DiscardHandler), 0)
	if err := q.load(path); err != nil {
		t.Fatal(err)
	}
	if q.dests[1].ip != [4]byte{127, 0, 0, 9} {
		t.Fatalf("reloaded destination 1: %+v", q.dests[1])
	}

	// A save that cannot happen undoes the change and reports an error.
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	q.path = filepath.Join(blocker, pefFile) // a directory that is a file
	before := q.stateLocked()
	if cc, _ := q.setLANAlertParam(lanDestAddresses, []byte{1, 0, 0, 10, 1, 2, 3, 0, 0, 0, 0, 0, 0}); cc != types.CodeUnspecifiedError {
		t.Fatalf("set with a failing save: %#x", cc)
	}
	if !reflect.DeepEqual(q.stateLocked(), before) {
		t.Fatal("failed save left the change in memory")
	}
	if err := q.load(filepath.Join(dir, "missing", pefFile)); err != nil {
		t.Fatalf("loading a never-saved configuration: %v", err)
	}
}

// A kill mid-save leaves ".pef.json.tmp-*"; load removes it unread and
// restores the last saved configuration.
func TestPEFLoadRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, pefFile)
	p := newPEF(nil, slog.New(slog.DiscardHandler), 0)
	if err := p.load(path); err != nil {
		t.Fatal(err)
	}
	if cc, ok := p.setLANAlertParam(lanDestAddresses, []byte{1, 0, 0, 127, 0, 0, 9, 0, 0, 0, 0, 0, 0}); !ok || cc != types.CodeOK {
		t.Fatalf("set destination address: %#x %v", cc, ok)
	}
	stale := filepath.Join(dir, "."+pefFile+".tmp-5")
	if err := os.WriteFile(stale, []byte(`{"destinations":`), 0o600); err != nil {
		t.Fatal(err)
	}
	q := newPEF(nil, slog.New(slog.DiscardHandler), 0)
	if err := q.load(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("%s left after load", stale)
	}
	if q.dests[1].ip != [4]byte{127, 0, 0, 9} {
		t.Errorf("reloaded destination 1: %+v", q.dests[1])
	}
}
