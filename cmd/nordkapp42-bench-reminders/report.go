package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// target is the lateness the issue asks for: every reminder fires within
// 2 s of its fireAt.
const target = 2 * time.Second

// never stands for the lateness of a reminder that did not fire (or whose
// notification did not arrive): later than anything measured.
const never = time.Duration(math.MaxInt64)

// result is what one run saw.
type result struct {
	cfg      config
	database string

	firstDue         time.Time
	createTook       time.Duration
	createdBeforeDue time.Duration // negative: creation ended after the first reminder was due

	complete        bool  // every reminder fired before the wait's end
	timedOut        bool  // the run's -timeout ended it
	schedulerErr    error // River could not start
	subscriptionErr error // the live notifications were cut (slow consumer)
	storeFired      int   // reminders in state FIRED in the store afterwards
	storeErr        error
	riverStats      string // PostgreSQL: whether River's job table was analyzed
	loadBefore      string // the machine's load average as the run began
	loadAfter       string // and as it ended: other work skews the figures

	n              int
	fired          int // reminders with a successful fire of their token
	missing        int
	duplicates     int // successful fires beyond the first of the same schedule
	failedAttempts int // fires that returned an error (River retried them)
	stray          int // fires of a token no reminder had
	withinTarget   int
	notified       int // reminders whose notification reached the subscriber
	notifyDupes    int // notifications beyond the first of the same reminder

	fire   summary // first successful fire's start − fireAt
	notify summary // first notification's arrival − fireAt

	windows []window
	passes  []pass
}

// ok reports whether every reminder fired exactly once.
func (r *result) ok() bool {
	return r.missing == 0 && r.duplicates == 0 && r.notifyDupes == 0 && r.stray == 0
}

// summary is the distribution of a lateness over every reminder, those that
// never came counting as later than any that did.
type summary struct {
	P50, P95, P99, Max, Min time.Duration
}

// distribution takes the nearest-rank percentiles of ds, where never
// stands for a reminder that did not come.
func distribution(ds []time.Duration) summary {
	if len(ds) == 0 {
		return summary{}
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		return ds[max(i, 0)]
	}
	return summary{P50: rank(0.50), P95: rank(0.95), P99: rank(0.99), Max: ds[len(ds)-1], Min: ds[0]}
}

// window is the lateness of the reminders due within one window of time.
type window struct {
	offset     time.Duration // of the window's start from the first due time
	reminders  int
	fired      int
	p50, worst time.Duration
}

// summarize works the recorded fires out against the reminders scheduled.
func (r *result) summarize(reminders []reminder, rec *recorder) {
	calls, notified, notes, passes := rec.snapshot()
	r.n = len(reminders)
	r.passes = passes
	fire := make([]time.Duration, len(reminders))
	notify := make([]time.Duration, len(reminders))
	tokens := make(map[string]string, len(reminders))
	for i, rem := range reminders {
		tokens[rem.id] = rem.token
		fire[i], notify[i] = never, never
		ok := 0
		for _, c := range calls[rem.id] {
			switch {
			case c.err != nil:
				r.failedAttempts++
			case c.token != rem.token:
				// Counted below, with fires of unknown reminders.
			case ok == 0:
				ok++
				fire[i] = c.start.Sub(rem.fireAt)
			default:
				ok++
				r.duplicates++
			}
		}
		if ok > 0 {
			r.fired++
			if fire[i] <= target {
				r.withinTarget++
			}
		}
		if at, seen := notified[rem.id]; seen {
			r.notified++
			notify[i] = at.Sub(rem.fireAt)
			r.notifyDupes += notes[rem.id] - 1
		}
	}
	for id, cs := range calls {
		for _, c := range cs {
			if c.err == nil && c.token != tokens[id] {
				r.stray++
			}
		}
	}
	r.missing = r.n - r.fired
	r.windows = byDueWindow(reminders, fire, r.firstDue, r.cfg.window)
	r.fire = distribution(fire)
	r.notify = distribution(notify)
}

// byDueWindow breaks the lateness down by due time, width apart from first;
// width 0 gives none.
func byDueWindow(reminders []reminder, lateness []time.Duration, first time.Time, width time.Duration) []window {
	if width <= 0 {
		return nil
	}
	byWindow := map[int64][]time.Duration{}
	for i, rem := range reminders {
		k := int64(rem.fireAt.Sub(first) / width)
		byWindow[k] = append(byWindow[k], lateness[i])
	}
	keys := make([]int64, 0, len(byWindow))
	for k := range byWindow {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]window, 0, len(keys))
	for _, k := range keys {
		ds := byWindow[k]
		s := distribution(ds)
		fired := 0
		for _, d := range ds {
			if d != never {
				fired++
			}
		}
		out = append(out, window{offset: time.Duration(k) * width, reminders: len(ds), fired: fired, p50: s.P50, worst: s.Max})
	}
	return out
}

// write prints the report: a table for people, then one JSON line.
func (r *result) write(w io.Writer) error {
	var b strings.Builder
	c := r.cfg
	orDefault := func(v any, zero bool) any {
		if zero {
			return "default"
		}
		return v
	}
	fmt.Fprintf(&b, "reminder lateness: -store %s -n %d -spread %s -lead %s -writers %d -workers %v -poll %v -analyze=%t\n",
		c.store, c.n, c.spread, c.lead, c.writers, orDefault(c.workers, c.workers == 0), orDefault(c.poll, c.poll == 0), c.analyze)
	fmt.Fprintf(&b, "  database  %s\n", r.database)
	if r.loadBefore != "" {
		fmt.Fprintf(&b, "  load      %s before, %s after (1, 5, 15 min)\n", r.loadBefore, r.loadAfter)
	}
	fmt.Fprintf(&b, "  go        %s %s/%s, GOMAXPROCS %d\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0))
	fmt.Fprintf(&b, "  created   %d tasks in %s (%.0f/s); creation ended %s the first was due\n",
		r.n, r.createTook.Round(time.Millisecond), float64(r.n)/r.createTook.Seconds(), beforeAfter(r.createdBeforeDue))
	fmt.Fprintf(&b, "  fired     %d of %d; missing %d; duplicates %d; failed attempts %d; stray %d; FIRED in the store %d\n",
		r.fired, r.n, r.missing, r.duplicates, r.failedAttempts, r.stray, r.storeFired)
	fmt.Fprintf(&b, "  notified  %d live notifications; duplicates %d\n", r.notified, r.notifyDupes)
	fmt.Fprintf(&b, "  within %s of fireAt: %d of %d (%.2f%%)\n", target, r.withinTarget, r.n, 100*float64(r.withinTarget)/float64(max(r.n, 1)))
	for _, note := range r.notes() {
		fmt.Fprintf(&b, "  NOTE      %s\n", note)
	}

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\tlateness\tp50\tp95\tp99\tmax\tmin\t\n")
	for _, row := range []struct {
		name string
		s    summary
	}{{"fire start − fireAt", r.fire}, {"notification − fireAt", r.notify}} {
		fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\t%s\t%s\t\n", row.name, ms(row.s.P50), ms(row.s.P95), ms(row.s.P99), ms(row.s.Max), ms(row.s.Min))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.windows) > 0 {
		fmt.Fprintf(&b, "  by due time (%s windows from the first due time):\n", c.window)
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "\tdue\treminders\tfired\tp50\tmax\t\n")
		for _, win := range r.windows {
			fmt.Fprintf(tw, "\t+%s\t%d\t%d\t%s\t%s\t\n", win.offset, win.reminders, win.fired, ms(win.p50), ms(win.worst))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.passes) > 0 {
		fmt.Fprintf(&b, "  River scheduler passes that made jobs available (end of the pass, from the first due time):\n   ")
		for _, p := range r.passes {
			fmt.Fprintf(&b, " %+.1fs:%d", p.at.Sub(r.firstDue).Seconds(), p.jobs)
		}
		b.WriteString("\n")
	}
	if r.riverStats != "" {
		fmt.Fprintf(&b, "  %s\n", r.riverStats)
	}
	line, err := json.Marshal(r.jsonLine())
	if err != nil {
		return err
	}
	b.Write(line)
	b.WriteString("\n")
	_, err = io.WriteString(w, b.String())
	return err
}

// notes are the things about the run that bear on its figures.
func (r *result) notes() []string {
	var out []string
	if r.createdBeforeDue < 0 {
		out = append(out, "task creation overran the lead: reminders came due while tasks were still being created")
	}
	if r.timedOut {
		out = append(out, "the run hit -timeout")
	} else if !r.complete {
		out = append(out, fmt.Sprintf("stopped waiting %s after the last due time", r.cfg.grace))
	}
	if r.schedulerErr != nil {
		out = append(out, fmt.Sprintf("scheduler: %v", r.schedulerErr))
	}
	if r.subscriptionErr != nil {
		out = append(out, fmt.Sprintf("live notifications cut: %v", r.subscriptionErr))
	}
	if r.storeErr != nil {
		out = append(out, fmt.Sprintf("reading the store afterwards: %v", r.storeErr))
	}
	return out
}

// beforeAfter words a duration by which something came before (positive)
// or after (negative) a time.
func beforeAfter(d time.Duration) string {
	if d < 0 {
		return (-d).Round(time.Millisecond).String() + " after"
	}
	return d.Round(time.Millisecond).String() + " before"
}

// ms prints a lateness in milliseconds, "never" for what did not come.
func ms(d time.Duration) string {
	if d == never {
		return "never"
	}
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

// jsonSummary is a summary in milliseconds; null is never.
type jsonSummary struct {
	P50 *float64 `json:"p50"`
	P95 *float64 `json:"p95"`
	P99 *float64 `json:"p99"`
	Max *float64 `json:"max"`
	Min *float64 `json:"min"`
}

func toJSON(s summary) jsonSummary {
	f := func(d time.Duration) *float64 {
		if d == never {
			return nil
		}
		v := math.Round(float64(d)/float64(time.Microsecond)) / 1000
		return &v
	}
	return jsonSummary{P50: f(s.P50), P95: f(s.P95), P99: f(s.P99), Max: f(s.Max), Min: f(s.Min)}
}

func (r *result) jsonLine() any {
	return struct {
		Store           string      `json:"store"`
		Database        string      `json:"database"`
		N               int         `json:"n"`
		SpreadMS        int64       `json:"spread_ms"`
		LeadMS          int64       `json:"lead_ms"`
		Workers         int         `json:"workers"`
		PollMS          int64       `json:"poll_ms"`
		Analyze         bool        `json:"analyze"`
		GoVersion       string      `json:"go"`
		GOMAXPROCS      int         `json:"gomaxprocs"`
		CreateMS        int64       `json:"create_ms"`
		CreatedBeforeMS int64       `json:"created_before_due_ms"`
		Fired           int         `json:"fired"`
		Missing         int         `json:"missing"`
		Duplicates      int         `json:"duplicates"`
		FailedAttempts  int         `json:"failed_attempts"`
		Stray           int         `json:"stray"`
		StoreFired      int         `json:"store_fired"`
		Notified        int         `json:"notified"`
		NotifyDupes     int         `json:"notify_duplicates"`
		WithinTarget    int         `json:"within_2s"`
		FireLateMS      jsonSummary `json:"fire_lateness_ms"`
		NotifyLateMS    jsonSummary `json:"notify_lateness_ms"`
		LoadBefore      string      `json:"load_before"`
		LoadAfter       string      `json:"load_after"`
		Complete        bool        `json:"complete"`
		TimedOut        bool        `json:"timed_out"`
	}{
		Store: r.cfg.store, Database: r.database, N: r.n,
		SpreadMS: r.cfg.spread.Milliseconds(), LeadMS: r.cfg.lead.Milliseconds(),
		Workers: r.cfg.workers, PollMS: r.cfg.poll.Milliseconds(), Analyze: r.cfg.analyze,
		GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		CreateMS: r.createTook.Milliseconds(), CreatedBeforeMS: r.createdBeforeDue.Milliseconds(),
		Fired: r.fired, Missing: r.missing, Duplicates: r.duplicates, FailedAttempts: r.failedAttempts,
		Stray: r.stray, StoreFired: r.storeFired, Notified: r.notified, NotifyDupes: r.notifyDupes,
		WithinTarget: r.withinTarget, FireLateMS: toJSON(r.fire), NotifyLateMS: toJSON(r.notify),
		LoadBefore: r.loadBefore, LoadAfter: r.loadAfter,
		Complete: r.complete, TimedOut: r.timedOut,
	}
}

// loadAverage reads the machine's load averages over 1, 5 and 15 minutes,
// where the system tells them (Linux); "" elsewhere.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
