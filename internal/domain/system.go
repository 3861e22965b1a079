package domain

// ServiceMemberID authors the system messages that other services post
// through the internal API ("Alice moved the card to Done"). It is reserved
// like SystemMemberID: no token may claim it.
const ServiceMemberID = "nk:system"

// ServiceMemberName is the service member's display name.
const ServiceMemberName = "System"
