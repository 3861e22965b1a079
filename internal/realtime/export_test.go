package realtime

// SetOnWait installs a hook called when a subscriber starts waiting for an
// upstream subscription that another subscriber is making. Set it before the
// hub is used.
func SetOnWait(h *Hub, f func(topic string)) { h.onWait = f }
