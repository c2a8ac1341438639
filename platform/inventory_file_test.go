package platform

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The inventory's open (LoadInventory) removes the temporary file a kill
// mid-save left and loads the last complete inventory.
func TestFileInventoryRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	f := NewFileInventory(filepath.Join(dir, "inventory.json"))
	if err := f.SaveInventory(&Inventory{Profile: "default", RASMode: "Mirroring"}); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, ".inventory.json.tmp-2718")
	if err := os.WriteFile(stale, []byte(`{"profile":"torn`), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := f.LoadInventory()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left after load (%v)", stale, err)
	}
	if inv == nil || inv.Profile != "default" || inv.RASMode != "Mirroring" {
		t.Errorf("inventory after cleanup: %+v", inv)
	}
}
