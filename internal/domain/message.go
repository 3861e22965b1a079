package domain

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Member is a person who can take part in rooms. Members are provisioned from
// their token on first use.
type Member struct {
	ID         string
	Name       string
	CreatedAt  time.Time
	LastSeenAt *time.Time
}

// Message is a text posted in a room. Seq is the room event sequence number at
// which it was sent; it orders the room's history. A deleted message keeps its
// row as a tombstone with empty text.
type Message struct {
	ID              string // a ULID
	RoomID          string
	AuthorID        string // empty for a system message
	Text            string
	ClientMessageID string
	Seq             int64
	CreatedAt       time.Time
	EditedAt        *time.Time
	DeletedAt       *time.Time
}

// Deleted reports whether the message is a tombstone.
func (m Message) Deleted() bool { return m.DeletedAt != nil }

// NormalizeText trims a message text and checks its length.
func NormalizeText(text string) (string, error) {
	text = strings.TrimSpace(text)
	switch n := utf8.RuneCountInString(text); {
	case n == 0:
		return "", Errorf(ErrInvalid, "message text must not be empty")
	case n > MaxMessageText:
		return "", Errorf(ErrInvalid, "message text is %d characters long; the limit is %d", n, MaxMessageText)
	}
	return text, nil
}

// CheckMemberID checks that id can name a member.
func CheckMemberID(id string) error {
	if id == "" || len(id) > MaxMemberID || strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Errorf(ErrInvalid, "malformed member id")
	}
	return nil
}

// SystemMemberID authors what nordkapp42 posts itself, such as reminders
// in rooms. Member ids starting with "nk:" are reserved for such members: no
// token may claim one.
const SystemMemberID = "nk:reminders"

// SystemMemberName is the system member's display name.
const SystemMemberName = "Reminders"

// ReservedMemberID reports whether id belongs to the system.
func ReservedMemberID(id string) bool { return strings.HasPrefix(id, "nk:") }
