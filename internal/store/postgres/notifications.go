package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

const notificationColumns = "id, member_id, kind, task_id, reminder_id, room_id, text, created_at, read_at"

const (
	selectNotification = "SELECT " + notificationColumns + " FROM notifications WHERE id = $1"
	// selectNotifications reads a page from both runs in one statement, so
	// from one snapshot: a notification marked read meanwhile cannot show
	// up in both. Each run is a backward range scan of
	// notifications_member_read from its key, limited on its own; the sort
	// at the end orders at most two pages.
	selectNotifications = "SELECT " + notificationColumns + `
		FROM ((` + notificationRunUnread + `) UNION ALL (` + notificationRunRead + `)) n
		ORDER BY is_read, created_at DESC, id DESC LIMIT $8`
	notificationRunUnread = "SELECT " + notificationColumns + `, is_read FROM notifications
		WHERE member_id = $1 AND NOT is_read AND (created_at, id) < ($2, $3)
		ORDER BY created_at DESC, id DESC LIMIT $4`
	notificationRunRead = "SELECT " + notificationColumns + `, is_read FROM notifications
		WHERE member_id = $1 AND is_read AND (created_at, id) < ($5, $6)
		ORDER BY created_at DESC, id DESC LIMIT $7`
	selectMemberNotification = "SELECT " + notificationColumns + " FROM notifications WHERE id = $1 AND member_id = $2"
	// insertNotificationRow inserts nothing, rather than fail and abort the
	// transaction, when the member has a notification of the same reminder
	// fire already or the id is taken.
	insertNotificationRow = `
		INSERT INTO notifications (id, member_id, kind, task_id, reminder_id, room_id, text, created_at, read_at, token)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT DO NOTHING`
	notificationFired = `
		SELECT EXISTS (SELECT 1 FROM notifications WHERE reminder_id = $1 AND token = $2 AND member_id = $3)`
	markNotificationRead     = "UPDATE notifications SET read_at = $1 WHERE id = $2 AND member_id = $3 AND read_at IS NULL"
	markAllNotificationsRead = "UPDATE notifications SET read_at = $1 WHERE member_id = $2 AND NOT is_read"
)

// Notification returns a notification.
func (s *Store) Notification(ctx context.Context, id string) (domain.Notification, error) {
	n, err := scanNotification(s.pool.QueryRow(ctx, selectNotification, id))
	if err != nil {
		return domain.Notification{}, getError("load notification "+id, err, notificationNotFound(id))
	}
	return n, nil
}

// Notifications pages a member's notifications: the unread ones, then the
// read ones, each newest first by (CreatedAt, ID), after the key in page.
func (s *Store) Notifications(ctx context.Context, memberID string, page app.NotificationPage) ([]domain.Notification, error) {
	if err := checkLimit(page.Limit); err != nil {
		return nil, err
	}
	unread, read := notificationRuns(page)
	return collect(ctx, s.pool, "list notifications of member "+memberID, selectNotifications,
		[]any{memberID, unread.createdAt, unread.id, unread.limit, read.createdAt, read.id, read.limit, page.Limit},
		scanNotification)
}

// notificationKey is where a page starts in one run of notifications, and
// how many it takes from there at most.
type notificationKey struct {
	createdAt pgtype.Timestamptz
	id        string
	limit     int
}

// notificationRuns returns where page starts in the run of unread and in
// that of read notifications. A page from the start, or after an unread
// key, goes on into the read run from its start; a key in the read run
// skips the unread one.
func notificationRuns(page app.NotificationPage) (unread, read notificationKey) {
	start := notificationKey{createdAt: afterAll, limit: page.Limit}
	unread, read = start, start
	if page.UnreadOnly {
		read.limit = 0
	}
	if page.AfterID == "" {
		return unread, read
	}
	key := notificationKey{createdAt: pgtype.Timestamptz{Time: toDB(page.AfterCreateAt), Valid: true}, id: page.AfterID, limit: page.Limit}
	if !page.AfterRead {
		return key, read
	}
	unread.limit = 0
	if !page.UnreadOnly {
		read = key
	}
	return unread, read
}

// insertNotification stores n unless the member has a notification of the
// same reminder and token; a taken id is domain.ErrConflict.
func insertNotification(ctx context.Context, q querier, n domain.Notification, token string) (bool, error) {
	what := "insert notification " + n.ID
	tag, err := q.Exec(ctx, insertNotificationRow, n.ID, n.MemberID, string(n.Kind), n.TaskID, n.ReminderID, n.RoomID,
		n.Text, toDB(n.CreatedAt), toDBPtr(n.ReadAt), token)
	if err != nil {
		return false, dbError(what, err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	// Nothing inserted: a repeated fire, or a taken id. Say which.
	var fired bool
	if err := q.QueryRow(ctx, notificationFired, n.ReminderID, token, n.MemberID).Scan(&fired); err != nil {
		return false, dbError(what, err)
	}
	if fired {
		return false, nil
	}
	return false, domain.Errorf(domain.ErrConflict, "notification %s exists already", n.ID)
}

// markRead sets the read time of one of the member's notifications unless it
// has one. Another member's notification is not found, as a missing one. The
// notification is read back in a statement of its own, whose snapshot sees
// a read time that a concurrent transaction committed while the update
// waited for it.
func markRead(ctx context.Context, q querier, memberID, id string, at time.Time) (domain.Notification, error) {
	what := "mark notification " + id + " read"
	if _, err := q.Exec(ctx, markNotificationRead, toDB(at), id, memberID); err != nil {
		return domain.Notification{}, dbError(what, err)
	}
	n, err := scanNotification(q.QueryRow(ctx, selectMemberNotification, id, memberID))
	if err != nil {
		return domain.Notification{}, getError(what, err, notificationNotFound(id))
	}
	return n, nil
}

func markAllRead(ctx context.Context, q querier, memberID string, at time.Time) (int, error) {
	tag, err := q.Exec(ctx, markAllNotificationsRead, toDB(at), memberID)
	if err != nil {
		return 0, dbError("mark notifications of member "+memberID+" read", err)
	}
	return int(tag.RowsAffected()), nil
}

func notificationNotFound(id string) error {
	return domain.Errorf(domain.ErrNotFound, "notification %s not found", id)
}

func scanNotification(row scanner) (domain.Notification, error) {
	var (
		n       domain.Notification
		created time.Time
		readAt  *time.Time
	)
	err := row.Scan(&n.ID, &n.MemberID, &n.Kind, &n.TaskID, &n.ReminderID, &n.RoomID, &n.Text, &created, &readAt)
	if err != nil {
		return domain.Notification{}, err
	}
	n.CreatedAt = fromDB(created)
	n.ReadAt = fromDBPtr(readAt)
	return n, nil
}
