package domain

import "time"

// EventType names a durable room event.
type EventType string

// The durable room events.
const (
	EventMessageSent    EventType = "MESSAGE_SENT"
	EventMessageEdited  EventType = "MESSAGE_EDITED"
	EventMessageDeleted EventType = "MESSAGE_DELETED"
	EventMemberJoined   EventType = "MEMBER_JOINED"
	EventMemberLeft     EventType = "MEMBER_LEFT"
	EventRoleChanged    EventType = "ROLE_CHANGED"
	EventRoomUpdated    EventType = "ROOM_UPDATED"
)

// Event is one entry of a room's event log, the source of truth for real-time
// delivery. Seq numbers a room's events 1, 2, 3… with no gap.
type Event struct {
	RoomID    string    `json:"r"`
	Seq       int64     `json:"s"`
	Type      EventType `json:"t"`
	At        time.Time `json:"at"`
	ActorID   string    `json:"a,omitempty"` // who caused it; empty for the system
	MessageID string    `json:"mi,omitempty"`
	MemberID  string    `json:"m,omitempty"` // whom a membership event is about
	Role      Role      `json:"ro,omitempty"`
	// Message is the message as it was when the event was read or published;
	// events read back from the store carry the message as it is now.
	Message *Message `json:"msg,omitempty"`
}

// SignalType names an ephemeral activity signal.
type SignalType string

// The ephemeral signals; they are never stored.
const (
	SignalOnline  SignalType = "ONLINE"
	SignalOffline SignalType = "OFFLINE"
	SignalTyping  SignalType = "TYPING"
	SignalRead    SignalType = "READ"
)

// TypingTTL is how long a TYPING signal stays true without a repeat.
const TypingTTL = 5 * time.Second

// Signal is an ephemeral activity in a room: presence, typing, read receipts.
type Signal struct {
	Type      SignalType `json:"t"`
	RoomID    string     `json:"r"`
	MemberID  string     `json:"m"`
	At        time.Time  `json:"at"`
	MessageID string     `json:"mi,omitempty"` // READ: the message read up to
}
