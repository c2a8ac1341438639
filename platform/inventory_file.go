package platform

import (
	"errors"
	"fmt"

	"github.com/bmcemu/bmcemu/platform/store"
)

// FileInventory keeps the inventory in one JSON document written atomically.
type FileInventory struct{ Doc store.JSON }

// NewFileInventory stores the inventory at path.
func NewFileInventory(path string) *FileInventory {
	return &FileInventory{Doc: store.JSON{Path: path}}
}

// LoadInventory implements InventoryStore. It is the store's open (the
// platform calls it once, before any save), so it first removes the
// temporary files a crash left mid-save.
func (f *FileInventory) LoadInventory() (*Inventory, error) {
	if _, err := f.Doc.RemoveStaleTemps(); err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	var inv Inventory
	if err := f.Doc.Load(&inv); err != nil {
		if errors.Is(err, store.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	return &inv, nil
}

// SaveInventory implements InventoryStore.
func (f *FileInventory) SaveInventory(inv *Inventory) error { return f.Doc.Save(inv) }
