package app

import (
	"context"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// Store keeps members, rooms, memberships, messages, read pointers and the
// room event log. Every method returns an error wrapping domain.ErrNotFound
// when the thing asked for does not exist, and domain.ErrUnavailable when the
// database does not answer. Times go in and come out in UTC, truncated to
// the microsecond (the precision PostgreSQL keeps).
//
// Reads outside Update see committed data only. Writes happen only inside
// Update, so that the rows and the events describing them commit together.
type Store interface {
	// Update runs fn in one transaction and returns once its writes have
	// committed (an adapter may commit several concurrent Updates together,
	// each fn in a savepoint of its own: one failing fn does not affect the
	// others). Updates of the same room are serialised: inside fn, Tx.Room
	// locks the room until commit, so event sequence numbers are gap-free and
	// a higher seq becomes visible only together with or after every lower
	// one. fn may be called again if the database asks for a retry; it must
	// not have effects outside tx.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error

	// Member returns one member.
	Member(ctx context.Context, id string) (domain.Member, error)
	// Members returns the members with the given ids that exist, by id.
	Members(ctx context.Context, ids []string) (map[string]domain.Member, error)
	// EnsureMember inserts m when no member has its id, and otherwise updates
	// the name when m.Name is not empty and differs. It returns the stored member.
	EnsureMember(ctx context.Context, m domain.Member) (domain.Member, error)
	// TouchLastSeen sets a member's last-seen time.
	TouchLastSeen(ctx context.Context, memberID string, at time.Time) error

	// Room returns one room.
	Room(ctx context.Context, id string) (domain.Room, error)
	// Membership returns one member's membership of one room.
	Membership(ctx context.Context, roomID, memberID string) (domain.Membership, error)
	// RoomMembers pages a room's memberships ordered by (JoinedAt, MemberID).
	RoomMembers(ctx context.Context, roomID string, page MemberPage) ([]domain.Membership, error)
	// MemberRoomIDs returns the ids of every room the member is in.
	MemberRoomIDs(ctx context.Context, memberID string) ([]string, error)
	// RoomsOf pages the rooms a member is in, latest activity first: ordered by
	// (UpdatedAt, ID) descending.
	RoomsOf(ctx context.Context, memberID string, page RoomPage) ([]domain.Room, error)
	// SearchRooms pages the non-CHAT rooms that are public or that the member is
	// in, whose name contains query (case-insensitive for ASCII), ordered by
	// (Name, ID) ascending.
	SearchRooms(ctx context.Context, memberID, query string, page SearchPage) ([]domain.Room, error)
	// ChatPartner returns the member id of the other member of a CHAT room.
	ChatPartner(ctx context.Context, roomID, memberID string) (string, error)

	// Message returns one message, a tombstone included.
	Message(ctx context.Context, id string) (domain.Message, error)
	// Messages pages a room's history by Seq; see MessagePage.
	Messages(ctx context.Context, roomID string, page MessagePage) ([]domain.Message, error)
	// LastMessage returns the room's newest message that is not deleted.
	LastMessage(ctx context.Context, roomID string) (domain.Message, error)
	// UnreadCount counts the room's messages with Seq > afterSeq that are not
	// deleted and not written by memberID.
	UnreadCount(ctx context.Context, roomID, memberID string, afterSeq int64) (int, error)

	// Events returns up to limit events of a room with Seq > afterSeq, in Seq
	// order, each message event carrying its message as it is now.
	Events(ctx context.Context, roomID string, afterSeq int64, limit int) ([]domain.Event, error)

	// Task returns a task with its watchers (sorted).
	Task(ctx context.Context, id string) (domain.Task, error)
	// TasksOf pages the tasks a member watches that have a due date, ordered
	// by (DueAt, ID); see TaskPage.
	TasksOf(ctx context.Context, memberID string, page TaskPage) ([]domain.Task, error)
	// Reminder returns a reminder.
	Reminder(ctx context.Context, id string) (domain.Reminder, error)
	// LatestReminder returns the task's most recently created reminder,
	// whatever its state.
	LatestReminder(ctx context.Context, taskID string) (domain.Reminder, error)
	// Notification returns a notification.
	Notification(ctx context.Context, id string) (domain.Notification, error)
	// Notifications pages a member's notifications: unread ones first, then
	// read ones, each newest first; see NotificationPage.
	Notifications(ctx context.Context, memberID string, page NotificationPage) ([]domain.Notification, error)
}

// Tx is the view of the store inside Update.
type Tx interface {
	// Room returns the room and locks it until the transaction ends.
	Room(ctx context.Context, id string) (domain.Room, error)
	// ChatByKey returns the CHAT room with the given domain.ChatKey.
	ChatByKey(ctx context.Context, key string) (domain.Room, error)
	// InsertRoom stores a new room; a CHAT whose ChatKey exists already is
	// domain.ErrConflict.
	InsertRoom(ctx context.Context, r domain.Room) error
	// RenameRoom sets a room's name.
	RenameRoom(ctx context.Context, roomID, name string) error

	// Membership returns one membership.
	Membership(ctx context.Context, roomID, memberID string) (domain.Membership, error)
	// Memberships returns every membership of the room.
	Memberships(ctx context.Context, roomID string) ([]domain.Membership, error)
	// PutMembership inserts a membership or updates its role.
	PutMembership(ctx context.Context, m domain.Membership) error
	// DeleteMembership removes a membership.
	DeleteMembership(ctx context.Context, roomID, memberID string) error
	// MoveReadPointer sets the member's read pointer to (seq, messageID) when
	// seq is greater than the current one; it reports whether it moved.
	MoveReadPointer(ctx context.Context, roomID, memberID string, seq int64, messageID string) (bool, error)

	// Members returns the members with the given ids that exist, by id.
	Members(ctx context.Context, ids []string) (map[string]domain.Member, error)
	// Message returns one message.
	Message(ctx context.Context, id string) (domain.Message, error)
	// MessageByClientID returns the message an author sent into a room with the
	// given client message id.
	MessageByClientID(ctx context.Context, roomID, authorID, clientMessageID string) (domain.Message, error)
	// InsertMessage stores a new message.
	InsertMessage(ctx context.Context, m domain.Message) error
	// UpdateMessage stores a message's Text, EditedAt and DeletedAt.
	UpdateMessage(ctx context.Context, m domain.Message) error

	// Task returns a task and locks it until the transaction ends.
	Task(ctx context.Context, id string) (domain.Task, error)
	// PutTask inserts or updates a task, replacing its watchers.
	PutTask(ctx context.Context, t domain.Task) error
	// Reminder returns a reminder and locks it until the transaction ends.
	Reminder(ctx context.Context, id string) (domain.Reminder, error)
	// PendingReminder returns the task's reminder in state SCHEDULED.
	PendingReminder(ctx context.Context, taskID string) (domain.Reminder, error)
	// PutReminder inserts or updates a reminder.
	PutReminder(ctx context.Context, r domain.Reminder) error
	// InsertNotification stores a notification; a second notification of the
	// same member for the same reminder and token is not stored and returns
	// false, so that a fire retried after a crash notifies once.
	InsertNotification(ctx context.Context, n domain.Notification, token string) (bool, error)
	// MarkNotificationRead sets ReadAt on one of a member's notifications if
	// it is unread, and returns the notification.
	MarkNotificationRead(ctx context.Context, memberID, id string, at time.Time) (domain.Notification, error)
	// MarkAllNotificationsRead sets ReadAt on every unread notification of a
	// member and returns how many it changed.
	MarkAllNotificationsRead(ctx context.Context, memberID string, at time.Time) (int, error)

	// AppendEvent appends e to its room's log: it assigns e.Seq = room.Seq+1,
	// sets the room's Seq and UpdatedAt to e.Seq and e.At, stores the event and
	// returns it. The room must have been locked with Room first.
	AppendEvent(ctx context.Context, e domain.Event) (domain.Event, error)
}

// MemberPage selects memberships after a key, in (JoinedAt, MemberID) order.
type MemberPage struct {
	AfterJoinedAt time.Time // zero: from the start
	AfterMemberID string
	Limit         int
}

// RoomPage selects rooms before a key, in (UpdatedAt, ID) descending order.
type RoomPage struct {
	Kind           domain.RoomKind // empty: every kind
	BeforeUpdateAt time.Time       // zero: from the newest
	BeforeID       string
	Limit          int
}

// SearchPage selects rooms after a key, in (Name, ID) ascending order.
type SearchPage struct {
	AfterName string
	AfterID   string // empty: from the start
	Limit     int
}

// MessagePage selects messages of a room by Seq. The result is always in
// ascending Seq order. With Newest false it holds the first Limit messages with
// AfterSeq < Seq < BeforeSeq; with Newest true the last Limit of them (the page
// a chat screen shows when scrolling back). BeforeSeq 0 means no upper bound.
type MessagePage struct {
	AfterSeq  int64
	BeforeSeq int64
	Limit     int
	Newest    bool
}

// TaskPage selects tasks with a due date in [DueAfter, DueBefore) (zero:
// unbounded), after the key (AfterDue, AfterID), in (DueAt, ID) order.
type TaskPage struct {
	DueAfter  time.Time
	DueBefore time.Time
	AfterDue  time.Time // zero with AfterID empty: from the start
	AfterID   string
	Limit     int
}

// NotificationPage selects a member's notifications after a key in the
// order unread first, then newest first: (read, CreatedAt desc, ID desc).
type NotificationPage struct {
	UnreadOnly    bool
	AfterRead     bool // the key: whether the last one seen was read
	AfterCreateAt time.Time
	AfterID       string // empty: from the start
	Limit         int
}

// Scheduler runs reminders at their time. It is durable (a schedule survives
// restarts; one due during downtime runs right after start) and runs each
// schedule at least once, on one node at a time; the use case makes a
// repeated run do nothing.
type Scheduler interface {
	// Schedule makes the node call Service.FireReminder(reminderID, token) at
	// or soon after at.
	Schedule(ctx context.Context, reminderID, token string, at time.Time) error
}

// Clock tells the time. Tests use a fake one.
type Clock interface {
	Now() time.Time
}

// IDs makes new identifiers: ULIDs, time-sortable, unique across nodes.
type IDs interface {
	New() string
}

// Broker carries published payloads between the nodes; see realtime.Broker
// for its contract. Use cases publish through the Hub, not directly.

// Presence tracks who is online (a member is online while they hold at least
// one live connection anywhere) and who is typing where. Every node sees the
// same answers.
type Presence interface {
	// Connect records one more connection of the member; it reports whether
	// the member was offline before.
	Connect(ctx context.Context, memberID string) (cameOnline bool, err error)
	// Disconnect records one connection fewer; it reports whether the member
	// has no connection left.
	Disconnect(ctx context.Context, memberID string) (wentOffline bool, err error)
	// Online returns which of the given members are online.
	Online(ctx context.Context, memberIDs []string) (map[string]bool, error)

	// SetTyping records that the member is typing in the room until until.
	SetTyping(ctx context.Context, roomID, memberID string, until time.Time) error
	// ClearTyping forgets that the member is typing in the room.
	ClearTyping(ctx context.Context, roomID, memberID string) error
	// Typing returns who is typing in the room at now, in no particular order.
	Typing(ctx context.Context, roomID string, now time.Time) ([]string, error)
}

// EventKey names one event of a room's log.
type EventKey struct {
	RoomID string
	Seq    int64
}

// Outbox is implemented by stores that several nodes share. Tx.AppendEvent
// also records each event as unpublished, in the same transaction, so an
// event committed by a node that dies before publishing it is still
// published, by a surviving node.
type Outbox interface {
	// MarkPublished records that these events reached the broker. Keys that
	// are not pending are ignored.
	MarkPublished(ctx context.Context, keys []EventKey) error
	// RelayUnpublished claims up to limit events appended at least minAge ago
	// and still unpublished, calls publish with them in (RoomID, Seq) order,
	// and marks them published when publish returns nil. Nodes relaying at
	// the same time claim disjoint events (rows another node has claimed are
	// skipped, not waited for); a claim dies with its node, so the events are
	// relayed again. It returns how many events it published.
	RelayUnpublished(ctx context.Context, minAge time.Duration, limit int, publish func(ctx context.Context, events []domain.Event) error) (int, error)
}
