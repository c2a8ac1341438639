package ipmi

import (
	"context"
	"strings"
	"testing"
	"time"
)

var testUsers = []User{
	{Name: "admin", Password: "password", Privilege: "administrator"},
	{Name: "oper", Password: "password", Privilege: "operator"},
	{Name: "viewer", Password: "password", Privilege: "user"},
}

func TestConfigValidation(t *testing.T) {
	p := newPlatform(t)
	long := strings.Repeat("x", 21)
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Users: testUsers}, "Addr is empty"},
		{Config{Addr: "127.0.0.1:0"}, "no users"},
		{Config{Addr: "127.0.0.1:0", Users: []User{{Name: "", Password: "p", Privilege: "user"}}}, "name is empty"},
		{Config{Addr: "127.0.0.1:0", Users: []User{{Name: "seventeen-chars-x", Password: "p", Privilege: "user"}}}, "IPMI allows 16"},
		{Config{Addr: "127.0.0.1:0", Users: []User{{Name: "a b", Password: "p", Privilege: "user"}}}, "printable ASCII"},
		{Config{Addr: "127.0.0.1:0", Users: []User{{Name: "a", Password: "", Privilege: "user"}}}, "password is empty"},
		{Config{Addr: "127.0.0.1:0", Users: []User{{Name: "a", Password: long, Privilege: "user"}}}, "allows 20"},
		{Config{Addr: "127.0.0.1:0", Users: []User{{Name: "a", Password: "p", Privilege: "root"}}}, `privilege "root"`},
		{Config{Addr: "127.0.0.1:0", Users: []User{{Name: "a", Password: "p", Privilege: "user"}, {Name: "a", Password: "q", Privilege: "user"}}}, "duplicate"},
		{Config{Addr: "not an address", Users: testUsers}, "resolve"},
	} {
		s, err := New(tc.cfg, p)
		if err == nil {
			s.Close()
			t.Errorf("New(%+v) succeeded, want error containing %q", tc.cfg, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want error containing %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := New(Config{Addr: "127.0.0.1:0", Users: testUsers}, nil); err == nil {
		t.Error("New with nil platform succeeded")
	}
}

func TestServeLifecycle(t *testing.T) {
	p := newPlatform(t)
	// Two servers in one process must not share state.
	a, err := New(Config{Addr: "127.0.0.1:0", Users: testUsers}, p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Addr: "127.0.0.1:0", Users: testUsers}, p)
	if err != nil {
		t.Fatal(err)
	}
	if a.Addr().String() == b.Addr().String() {
		t.Fatalf("both servers on %s", a.Addr())
	}
	if _, err := New(Config{Addr: a.Addr().String(), Users: testUsers}, p); err == nil {
		t.Error("binding an address in use succeeded")
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}

	// Close before Serve: Serve returns at once.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Serve(context.Background()); err != nil {
		t.Errorf("Serve after Close = %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := b.Serve(context.Background()); err == nil {
		t.Error("second Serve succeeded")
	}
}
