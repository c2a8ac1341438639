package redfish

// subscriptions delivers events to push subscribers.
type subscriptions struct{}

func (m *subscriptions) dispatch(rfEvent) {}
func (m *subscriptions) close()           {}
