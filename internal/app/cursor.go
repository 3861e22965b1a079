package app

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// Cursors are opaque to clients: base64url of a tag and the key of the item.
// The tag keeps a cursor of one list from being taken for another's.
const (
	tagEvent   = "e"
	tagMessage = "m"
	tagRoom    = "r"
	tagSearch  = "s"
	tagMember  = "j"
)

var errBadCursor = domain.Errorf(domain.ErrInvalid, "malformed cursor")

func encodeCursor(tag string, parts ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tag + "\x00" + strings.Join(parts, "\x00")))
}

func decodeCursor(tag, cursor string, n int) ([]string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, errBadCursor
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != n+1 || parts[0] != tag {
		return nil, errBadCursor
	}
	return parts[1:], nil
}

func parseSeq(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errBadCursor
	}
	return n, nil
}

func parseNanos(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, errBadCursor
	}
	return time.Unix(0, n).UTC(), nil
}

// EventCursor is the cursor of a room event: where a subscriber resumes.
func EventCursor(roomID string, seq int64) string {
	return encodeCursor(tagEvent, roomID, strconv.FormatInt(seq, 10))
}

// ParseEventCursor returns the room and sequence number of an event cursor.
func ParseEventCursor(cursor string) (roomID string, seq int64, err error) {
	p, err := decodeCursor(tagEvent, cursor, 2)
	if err != nil {
		return "", 0, err
	}
	seq, err = parseSeq(p[1])
	return p[0], seq, err
}

// MessageCursor is the cursor of a message in its room's history.
func MessageCursor(m domain.Message) string {
	return encodeCursor(tagMessage, m.RoomID, strconv.FormatInt(m.Seq, 10))
}

func parseMessageCursor(roomID, cursor string) (int64, error) {
	p, err := decodeCursor(tagMessage, cursor, 2)
	if err != nil {
		return 0, err
	}
	if p[0] != roomID {
		return 0, domain.Errorf(domain.ErrInvalid, "cursor belongs to another room")
	}
	return parseSeq(p[1])
}

// RoomCursor is the cursor of a room in a member's room list.
func RoomCursor(r domain.Room) string {
	return encodeCursor(tagRoom, strconv.FormatInt(r.UpdatedAt.UnixNano(), 10), r.ID)
}

// SearchCursor is the cursor of a room in search results.
func SearchCursor(r domain.Room) string {
	return encodeCursor(tagSearch, r.Name, r.ID)
}

// MemberCursor is the cursor of a membership in a room's member list.
func MemberCursor(m domain.Membership) string {
	return encodeCursor(tagMember, strconv.FormatInt(m.JoinedAt.UnixNano(), 10), m.MemberID)
}
