package sqlite

import (
	"context"
	"database/sql"
	"math"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
)

const notificationColumns = "id, member_id, kind, task_id, reminder_id, room_id, text, created_at, read_at"

// notificationRun selects one run of a member's notifications, the unread
// or the read ones, newest first from a key: a range scan of
// notifications_member_read backwards.
const notificationRun = "SELECT " + notificationColumns + `, is_read FROM notifications
	WHERE member_id = ? AND is_read = ? AND (created_at, id) < (?, ?)
	ORDER BY created_at DESC, id DESC LIMIT ?`

var (
	selectNotification = statement("SELECT " + notificationColumns + " FROM notifications WHERE id = ?")
	// selectNotifications reads a page from both runs in one statement, so
	// from one snapshot: a notification marked read meanwhile cannot show
	// up in both. Each run is limited on its own; the sort at the end
	// orders at most two pages.
	selectNotifications = statement("SELECT " + notificationColumns + `
		FROM (SELECT * FROM (` + notificationRun + `) UNION ALL SELECT * FROM (` + notificationRun + `))
		ORDER BY is_read, created_at DESC, id DESC LIMIT ?`)
	selectMemberNotification = statement("SELECT " + notificationColumns + " FROM notifications WHERE id = ? AND member_id = ?")
	// insertNotificationRow inserts nothing when the member has a
	// notification of the same reminder fire already.
	insertNotificationRow = statement(`
		INSERT INTO notifications (id, member_id, kind, task_id, reminder_id, room_id, text, created_at, read_at, token)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (reminder_id, token, member_id) DO NOTHING`)
	markNotificationRead     = statement("UPDATE notifications SET read_at = ? WHERE id = ? AND member_id = ? AND read_at IS NULL")
	markAllNotificationsRead = statement("UPDATE notifications SET read_at = ? WHERE member_id = ? AND is_read = 0")
)

// Notification returns a notification.
func (s *Store) Notification(ctx context.Context, id string) (domain.Notification, error) {
	n, err := scanNotification(s.read.QueryRowContext(ctx, selectNotification, id))
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
	var args []any
	for isRead, run := range []notificationKey{unread, read} {
		args = append(args, memberID, isRead, run.createdAt, run.id, run.limit)
	}
	args = append(args, page.Limit)
	ns := []domain.Notification{}
	err := queryEach(ctx, s.read, "list notifications of member "+memberID, selectNotifications, args,
		func(rows *sql.Rows) error {
			n, err := scanNotification(rows)
			if err != nil {
				return err
			}
			ns = append(ns, n)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return ns, nil
}

// notificationKey is where a page starts in one run of notifications, and
// how many it takes from there at most.
type notificationKey struct {
	createdAt int64
	id        string
	limit     int
}

// notificationRuns returns where page starts in the run of unread and in
// that of read notifications. A page from the start, or after an unread
// key, goes on into the read run from its start; a key in the read run
// skips the unread one.
func notificationRuns(page app.NotificationPage) (unread, read notificationKey) {
	start := notificationKey{createdAt: math.MaxInt64, limit: page.Limit}
	unread, read = start, start
	if page.UnreadOnly {
		read.limit = 0
	}
	if page.AfterID == "" {
		return unread, read
	}
	key := notificationKey{createdAt: toMicros(page.AfterCreateAt), id: page.AfterID, limit: page.Limit}
	if !page.AfterRead {
		return key, read
	}
	unread.limit = 0
	if !page.UnreadOnly {
		read = key
	}
	return unread, read
}

func insertNotification(ctx context.Context, q querier, n domain.Notification, token string) (bool, error) {
	res, err := q.ExecContext(ctx, insertNotificationRow, n.ID, n.MemberID, string(n.Kind), n.TaskID, n.ReminderID, n.RoomID,
		n.Text, toMicros(n.CreatedAt), toNullMicros(n.ReadAt), token)
	if constraint(err) == violatesPrimaryKey {
		return false, domain.Errorf(domain.ErrConflict, "notification %s exists already", n.ID)
	}
	if err != nil {
		return false, dbError("insert notification "+n.ID, err)
	}
	inserted, err := res.RowsAffected()
	if err != nil {
		return false, dbError("insert notification "+n.ID, err)
	}
	return inserted == 1, nil
}

// markRead sets the read time of one of the member's notifications unless it
// has one. Another member's notification is not found, as a missing one.
func markRead(ctx context.Context, q querier, memberID, id string, at time.Time) (domain.Notification, error) {
	what := "mark notification " + id + " read"
	if _, err := q.ExecContext(ctx, markNotificationRead, toMicros(at), id, memberID); err != nil {
		return domain.Notification{}, dbError(what, err)
	}
	n, err := scanNotification(q.QueryRowContext(ctx, selectMemberNotification, id, memberID))
	if err != nil {
		return domain.Notification{}, getError(what, err, notificationNotFound(id))
	}
	return n, nil
}

func markAllRead(ctx context.Context, q querier, memberID string, at time.Time) (int, error) {
	what := "mark notifications of member " + memberID + " read"
	res, err := q.ExecContext(ctx, markAllNotificationsRead, toMicros(at), memberID)
	if err != nil {
		return 0, dbError(what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, dbError(what, err)
	}
	return int(n), nil
}

func notificationNotFound(id string) error {
	return domain.Errorf(domain.ErrNotFound, "notification %s not found", id)
}

func scanNotification(row scanner) (domain.Notification, error) {
	var (
		n       domain.Notification
		created int64
		readAt  sql.NullInt64
	)
	err := row.Scan(&n.ID, &n.MemberID, &n.Kind, &n.TaskID, &n.ReminderID, &n.RoomID, &n.Text, &created, &readAt)
	if err != nil {
		return domain.Notification{}, err
	}
	n.CreatedAt = fromMicros(created)
	n.ReadAt = fromNullMicros(readAt)
	return n, nil
}
