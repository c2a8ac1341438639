package redfish

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
)

// The render cache must never serve a representation older than the
// snapshot: a change of the slot shows at once, with a new ETag.
func TestRenderCacheFollowsSnapshot(t *testing.T) {
	p := newPlatform(t)
	h := newHandler(t, p)
	target := "/redfish/v1/Systems/1/Memory/CPU0_DIMM_A1"
	w1 := do(t, h, http.MethodGet, target)
	w2 := do(t, h, http.MethodGet, target)
	if w1.Header().Get("ETag") != w2.Header().Get("ETag") || w1.Body.String() != w2.Body.String() {
		t.Fatal("two reads of an unchanged resource differ")
	}
	if err := p.SetLocationIndicator("CPU0_DIMM_A1", true); err != nil {
		t.Fatal(err)
	}
	w3 := do(t, h, http.MethodGet, target)
	if w3.Header().Get("ETag") == w1.Header().Get("ETag") {
		t.Fatal("ETag did not change with the snapshot")
	}
	if got := path(t, decode(t, w3.Body.Bytes()), "LocationIndicatorActive"); got != true {
		t.Fatalf("LocationIndicatorActive = %v after the platform set it", got)
	}
	// Another member is its own entry.
	other := getJSON(t, h, "/redfish/v1/Systems/1/Memory/CPU0_DIMM_B1")
	if other["Id"] != "CPU0_DIMM_B1" {
		t.Fatalf("Id = %v", other["Id"])
	}
}

// The cache itself: an older rendering never replaces a newer one, a
// published map is never changed under a reader (-race), and the bound
// restarts it.
func TestRenderCacheEntries(t *testing.T) {
	var c renderCache
	a, b := &resource{entity: "A"}, &resource{entity: "B"}
	entry := func(gen uint64) renderEntry { return renderEntry{gen: gen, rendered: newRendered([]byte("{}"), "x")} }
	c.put(a, "1/", entry(5))
	c.put(a, "1/", entry(4))
	if _, ok := c.get(a, []byte("1/"), 5); !ok {
		t.Fatal("generation 5 replaced by the older 4")
	}
	if _, ok := c.get(a, []byte("1/"), 6); ok {
		t.Fatal("an entry of generation 5 served for 6")
	}
	if _, ok := c.get(b, []byte("1/"), 5); ok {
		t.Fatal("another resource's entry served")
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				key := strconv.Itoa(w*1000 + i%50)
				c.put(b, key, entry(uint64(i)))
				if e, ok := c.get(b, []byte(key), uint64(i)); ok && e.gen != uint64(i) {
					t.Errorf("get %s gen %d returned gen %d", key, i, e.gen)
				}
			}
		})
	}
	wg.Wait()
	for i := range maxRenders + 1 {
		c.put(a, strconv.Itoa(i), entry(1))
	}
	if c.n > maxRenders {
		t.Fatalf("%d entries kept, bound %d", c.n, maxRenders)
	}
	if _, ok := c.get(a, []byte(strconv.Itoa(maxRenders)), 1); !ok {
		t.Fatal("the entry put after the restart is missing")
	}
}
