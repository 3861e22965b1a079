package domain

import (
	"strings"
	"time"
	"unicode/utf8"
)

// RoomKind says who may see, join and post in a room.
type RoomKind string

// The kinds of room.
const (
	KindChat           RoomKind = "CHAT"
	KindPrivateGroup   RoomKind = "PRIVATE_GROUP"
	KindPublicGroup    RoomKind = "PUBLIC_GROUP"
	KindPrivateChannel RoomKind = "PRIVATE_CHANNEL"
	KindPublicChannel  RoomKind = "PUBLIC_CHANNEL"
)

// Valid reports whether k is one of the known kinds.
func (k RoomKind) Valid() bool {
	switch k {
	case KindChat, KindPrivateGroup, KindPublicGroup, KindPrivateChannel, KindPublicChannel:
		return true
	}
	return false
}

// Public reports whether anyone authenticated may find, read and join the room.
func (k RoomKind) Public() bool { return k == KindPublicGroup || k == KindPublicChannel }

// Channel reports whether only owners and admins post.
func (k RoomKind) Channel() bool { return k == KindPrivateChannel || k == KindPublicChannel }

// Role is a member's standing in a room.
type Role string

// The roles, from most to least powerful.
const (
	RoleOwner  Role = "OWNER"
	RoleAdmin  Role = "ADMIN"
	RoleMember Role = "MEMBER"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool { return r == RoleOwner || r == RoleAdmin || r == RoleMember }

// Manager reports whether the role may add and remove members and rename.
func (r Role) Manager() bool { return r == RoleOwner || r == RoleAdmin }

// Room is a conversation. Seq is the sequence number of its latest event.
type Room struct {
	ID        string
	Kind      RoomKind
	Name      string // empty for CHAT: its name is the other member's
	ChatKey   string // for CHAT only: the two member ids, sorted, unique per pair
	CreatedAt time.Time
	UpdatedAt time.Time // time of the latest event
	Seq       int64
}

// Membership is one member's place in one room.
type Membership struct {
	RoomID   string
	MemberID string
	Role     Role
	JoinedAt time.Time
	// LastReadSeq is the seq of the last message the member has read (0: none);
	// it only moves forward.
	LastReadSeq       int64
	LastReadMessageID string
}

// Limits on input sizes.
const (
	MaxRoomName      = 100
	MaxMessageText   = 4000
	MaxMembersPerAdd = 1000
	MaxMemberID      = 128
	MaxMemberName    = 200
	MaxClientMsgID   = 128
)

// ChatKey is the key that makes a CHAT unique per pair of members.
func ChatKey(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return a + "\x00" + b
}

// NormalizeRoomName trims name and checks its length.
func NormalizeRoomName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return "", Errorf(ErrInvalid, "room name must not be empty")
	case n > MaxRoomName:
		return "", Errorf(ErrInvalid, "room name is %d characters long; the limit is %d", n, MaxRoomName)
	}
	return name, nil
}

// CanView reports whether a caller with membership m (nil when not a member)
// may see the room, its members and its history.
func CanView(room Room, m *Membership) bool {
	return m != nil || room.Kind.Public()
}

// CheckPost returns nil when a caller with membership m may post in room.
func CheckPost(room Room, m *Membership) error {
	if m == nil {
		if room.Kind.Public() {
			return Errorf(ErrForbidden, "join the room before posting in it")
		}
		return Errorf(ErrNotFound, "room %s not found", room.ID)
	}
	if room.Kind.Channel() && !m.Role.Manager() {
		return Errorf(ErrForbidden, "only owners and admins post in a channel")
	}
	return nil
}

// NextOwner picks who inherits a room when its owner leaves: the
// longest-standing admin, else the longest-standing member. rest excludes the
// leaving owner. ok is false when nobody is left.
func NextOwner(rest []Membership) (next Membership, ok bool) {
	for _, m := range rest {
		if !ok || better(m, next) {
			next, ok = m, true
		}
	}
	return next, ok
}

func better(a, b Membership) bool {
	ra, rb := rank(a.Role), rank(b.Role)
	if ra != rb {
		return ra < rb
	}
	if !a.JoinedAt.Equal(b.JoinedAt) {
		return a.JoinedAt.Before(b.JoinedAt)
	}
	return a.MemberID < b.MemberID
}

func rank(r Role) int {
	switch r {
	case RoleOwner:
		return 0
	case RoleAdmin:
		return 1
	}
	return 2
}
