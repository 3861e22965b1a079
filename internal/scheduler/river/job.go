package river

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	riverqueue "github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// jobKind names reminder jobs in River's tables. Changing it strands the
// jobs already stored.
const jobKind = "reminder_fire"

// reminderArgs are the args of a reminder job, stored as JSON in the job row.
type reminderArgs struct {
	ReminderID string `json:"reminder_id"`
	Token      string `json:"token"`
}

// Kind names the job kind.
func (reminderArgs) Kind() string { return jobKind }

// InsertOpts puts every reminder job in its queue, bounds its attempts and
// makes it unique per (reminder, token): both args take part in the key, so
// a retried Schedule finds the first job, while a new schedule of the same
// reminder (a new token) is a job of its own. The default unique states
// include completed, so a Schedule retried after its job has run does not
// run it again either.
func (reminderArgs) InsertOpts() riverqueue.InsertOpts {
	return riverqueue.InsertOpts{
		MaxAttempts: maxAttempts,
		Queue:       queueName,
		UniqueOpts:  riverqueue.UniqueOpts{ByArgs: true},
	}
}

// availableWhenDueSoon is an insert hook: a reminder job due within
// lookAhead is inserted as available rather than scheduled, so that it does
// not wait for the leader's next pass over scheduled jobs (see lookAhead).
// River's fetch takes an available job only when its time has come, and
// River itself marks a retry due within lookAhead available the same way.
func availableWhenDueSoon(_ context.Context, p *rivertype.JobInsertParams) error {
	if p.Kind == jobKind && p.State == rivertype.JobStateScheduled &&
		p.ScheduledAt != nil && time.Until(*p.ScheduledAt) < lookAhead {
		p.State = rivertype.JobStateAvailable
	}
	return nil
}

// fireWorker runs reminder jobs.
type fireWorker struct {
	riverqueue.WorkerDefaults[reminderArgs]
	fire FireFunc
	log  *slog.Logger
}

// Work fires the reminder. A failure is logged with the reminder's id and
// the attempt, never the token (it is what makes a fire count), and returned
// so that River retries it.
func (w *fireWorker) Work(ctx context.Context, job *riverqueue.Job[reminderArgs]) error {
	err := w.fire(ctx, job.Args.ReminderID, job.Args.Token)
	if err == nil {
		return nil
	}
	attrs := []any{
		slog.String("reminder_id", job.Args.ReminderID),
		slog.Int64("job_id", job.ID),
		slog.Int("attempt", job.Attempt),
		slog.Int("max_attempts", job.MaxAttempts),
		slog.Any("err", err),
	}
	if job.Attempt >= job.MaxAttempts {
		w.log.ErrorContext(ctx, "reminder fire failed; giving up", attrs...)
	} else {
		w.log.WarnContext(ctx, "reminder fire failed; retrying", attrs...)
	}
	return fmt.Errorf("fire reminder %s: %w", job.Args.ReminderID, err)
}
