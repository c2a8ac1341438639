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
