package kernel

import (
	"cmp"
	"slices"
)

// Action is a memory notifier event (MEM_*).
type Action string

// Memory notifier actions, in the order a transition delivers them.
const (
	MemGoingOnline   Action = "MEM_GOING_ONLINE"
	MemOnline        Action = "MEM_ONLINE"
	MemCancelOnline  Action = "MEM_CANCEL_ONLINE"
	MemGoingOffline  Action = "MEM_GOING_OFFLINE"
	MemOffline       Action = "MEM_OFFLINE"
	MemCancelOffline Action = "MEM_CANCEL_OFFLINE"
)

// MemoryNotify is struct memory_notify plus the block and zone, delivered to
// each notifier.
type MemoryNotify struct {
	Action   Action `json:"action"`
	StartPFN uint64 `json:"start_pfn"`
	NrPages  uint64 `json:"nr_pages"`
	// StatusChangeNid is the node gaining its first memory (going online)
	// or losing its last (going offline); -1 otherwise.
	StatusChangeNid int `json:"status_change_nid"`
	// StatusChangeNidNormal is the same for memory in kernel zones
	// (N_NORMAL_MEMORY); the slab allocator keys on it.
	StatusChangeNidNormal int    `json:"status_change_nid_normal"`
	Block                 int    `json:"block"`
	Node                  int    `json:"node"`
	Zone                  string `json:"zone"`
}

// NotifierFunc handles a memory notification. Returning an error from
// MEM_GOING_ONLINE or MEM_GOING_OFFLINE vetoes the transition (the chain
// then delivers MEM_CANCEL_*); errors from other actions are ignored. It
// runs with the kernel's lock held: it must not call back into the Kernel.
type NotifierFunc func(MemoryNotify) error

type notifier struct {
	name     string
	priority int
	seq      int
	fn       NotifierFunc
}

// Notifier priorities (include/linux/memory.h).
const (
	SlabCallbackPri = 1 // SLAB_CALLBACK_PRI
	DefaultPri      = 0
)

// RegisterNotifier adds fn to the memory notifier chain
// (register_memory_notifier). Higher priorities run first; equal ones in
// registration order. Registering an existing name replaces it.
func (k *Kernel) RegisterNotifier(name string, priority int, fn NotifierFunc) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.registerNotifier(name, priority, fn)
}

func (k *Kernel) registerNotifier(name string, priority int, fn NotifierFunc) {
	seq := len(k.notifiers)
	k.notifiers = slices.DeleteFunc(k.notifiers, func(n notifier) bool { return n.name == name })
	for _, n := range k.notifiers {
		seq = max(seq, n.seq+1)
	}
	k.notifiers = append(k.notifiers, notifier{name, priority, seq, fn})
	slices.SortStableFunc(k.notifiers, func(a, b notifier) int {
		if c := cmp.Compare(b.priority, a.priority); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
}

// UnregisterNotifier removes the named notifier; it reports whether it was
// registered.
func (k *Kernel) UnregisterNotifier(name string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := len(k.notifiers)
	k.notifiers = slices.DeleteFunc(k.notifiers, func(n notifier) bool { return n.name == name })
	return len(k.notifiers) != n
}

// Notifiers lists the chain in call order.
func (k *Kernel) Notifiers() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]string, len(k.notifiers))
	for i, n := range k.notifiers {
		out[i] = n.name
	}
	return out
}

// notify runs the chain (memory_notify); for GOING_* actions it stops at
// the first error and returns it with the vetoing notifier's name.
func (k *Kernel) notify(arg MemoryNotify) (string, error) {
	veto := arg.Action == MemGoingOnline || arg.Action == MemGoingOffline
	for _, n := range slices.Clone(k.notifiers) {
		if err := n.fn(arg); err != nil && veto {
			return n.name, err
		}
	}
	return "", nil
}

// registerSlab subscribes the slab allocator (slab_memory_callback): a node
// gaining normal memory gets a kmem_cache_node per cache before its pages
// go online; a node losing it, or a cancelled online, frees them.
func (k *Kernel) registerSlab() {
	k.registerNotifier("slab_memory_callback", SlabCallbackPri, func(m MemoryNotify) error {
		nid := m.StatusChangeNidNormal
		if nid < 0 {
			return nil
		}
		pg := k.nodes[nid]
		if pg == nil {
			return nil
		}
		switch m.Action {
		case MemGoingOnline: // slab_mem_going_online_callback
			pg.kmemCacheNodes = len(k.slabCaches)
		case MemOffline, MemCancelOnline: // slab_mem_offline_callback
			pg.kmemCacheNodes = 0
		}
		return nil
	})
}
