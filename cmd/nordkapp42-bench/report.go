package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// result is one run's figures; the JSON line carries every field that
// applies to the scenario (pointers are null when a figure is not
// available, such as the resident set without -server-pid).
type result struct {
	Scenario  string  `json:"scenario"`
	Transport string  `json:"transport,omitempty"`
	Run       string  `json:"run"`
	N         int     `json:"n"`
	Rooms     int     `json:"rooms,omitempty"`
	Procs     int     `json:"procs,omitempty"`
	Sources   int     `json:"source_addrs,omitempty"`
	ElapsedS  float64 `json:"elapsed_s"`
	OK        bool    `json:"ok"`

	// Connections (every scenario with subscribers).
	Connected int `json:"connected,omitempty"`
	Failed    int `json:"failed"`
	Ready     int `json:"ready,omitempty"`
	Ended     int `json:"ended"`

	// conns.
	RSSBeforeKiB      *int64   `json:"rss_before_kib,omitempty"`
	RSSBeforeGCKiB    *int64   `json:"rss_before_gc_kib,omitempty"`
	RSSAfterKiB       *int64   `json:"rss_after_kib,omitempty"`
	RSSAfterGCKiB     *int64   `json:"rss_after_gc_kib,omitempty"`
	KiBPerConn        *float64 `json:"kib_per_conn,omitempty"`
	KiBPerConnAfterGC *float64 `json:"kib_per_conn_after_gc,omitempty"`
	GoroutinesBefore  *int64   `json:"goroutines_before,omitempty"`
	Goroutines        *int64   `json:"goroutines,omitempty"`
	GoroutinesPerConn *float64 `json:"goroutines_per_conn,omitempty"`

	// Sending (fanout, rooms, send).
	Offered     int     `json:"offered,omitempty"`
	Acked       int64   `json:"acked,omitempty"`
	SendErrors  int64   `json:"send_errors"`
	RateTarget  float64 `json:"rate,omitempty"`
	RateReached float64 `json:"rate_reached,omitempty"`
	MsgsPerS    float64 `json:"msgs_per_s,omitempty"`
	AckP50Ms    float64 `json:"ack_p50_ms,omitempty"`
	AckP99Ms    float64 `json:"ack_p99_ms,omitempty"`

	// Deliveries (fanout, rooms).
	Expected       int64   `json:"expected,omitempty"`
	Deliveries     int64   `json:"deliveries,omitempty"`
	Loss           int64   `json:"loss"`
	Duplicates     int64   `json:"duplicates"`
	Gaps           int64   `json:"gaps"`
	DeliveriesPerS float64 `json:"deliveries_per_s,omitempty"`

	// Latency of the scenario's main figure: send start to read (fanout,
	// rooms), request to acknowledgement (send), one page (history).
	P50Ms float64 `json:"p50_ms,omitempty"`
	P95Ms float64 `json:"p95_ms,omitempty"`
	P99Ms float64 `json:"p99_ms,omitempty"`
	MaxMs float64 `json:"max_ms,omitempty"`

	// history.
	RoomID       string  `json:"room_id,omitempty"`
	Seeded       int     `json:"seeded,omitempty"`
	SeedPerS     float64 `json:"seed_msgs_per_s,omitempty"`
	Pages        int     `json:"pages,omitempty"`
	MessagesRead int     `json:"messages_read,omitempty"`

	Errors []string `json:"errors,omitempty"`
	Notes  []string `json:"notes,omitempty"`
}

// setLatency fills the percentiles from a histogram in microseconds.
func (r *result) setLatency(h histSnapshot) {
	if h.count() == 0 {
		return
	}
	r.P50Ms = ms(h.percentile(50))
	r.P95Ms = ms(h.percentile(95))
	r.P99Ms = ms(h.percentile(99))
	r.MaxMs = ms(float64(h.Max))
}

func ms(us float64) float64 { return math.Round(us) / 1000 }

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// print writes the human table, then the JSON line.
func (r result) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, v any) { _, _ = fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	opt := func(k string, v any, show bool) {
		if show {
			row(k, v)
		}
	}
	row("scenario", r.Scenario)
	opt("transport", r.Transport, r.Transport != "")
	row("run", r.Run)
	row("n", r.N)
	opt("rooms", r.Rooms, r.Rooms > 0)
	opt("processes", r.Procs, r.Procs > 0)
	opt("source addresses", r.Sources, r.Sources > 0)
	opt("connected / failed / ready / ended", fmt.Sprintf("%d / %d / %d / %d", r.Connected, r.Failed, r.Ready, r.Ended), r.Connected+r.Failed > 0)
	opt("server RSS before (KiB)", kib(r.RSSBeforeKiB, r.RSSBeforeGCKiB), r.Scenario == scenarioConns)
	opt("server RSS after (KiB)", kib(r.RSSAfterKiB, r.RSSAfterGCKiB), r.Scenario == scenarioConns)
	opt("KiB per connection", perConn(r.KiBPerConn, r.KiBPerConnAfterGC), r.Scenario == scenarioConns)
	opt("server goroutines before / after / per conn", goroutines(r), r.Scenario == scenarioConns)
	opt("offered / acked / send errors", fmt.Sprintf("%d / %d / %d", r.Offered, r.Acked, r.SendErrors), r.Offered > 0)
	opt("rate target / reached (msg/s)", fmt.Sprintf("%.0f / %.1f", r.RateTarget, r.RateReached), r.RateTarget > 0)
	opt("acked msg/s", fmt.Sprintf("%.1f", r.MsgsPerS), r.MsgsPerS > 0)
	opt("ack p50 / p99 (ms)", fmt.Sprintf("%.3f / %.3f", r.AckP50Ms, r.AckP99Ms), r.AckP50Ms > 0)
	opt("deliveries expected / got", fmt.Sprintf("%d / %d", r.Expected, r.Deliveries), r.Expected > 0 || r.Deliveries > 0)
	opt("loss / duplicates / gaps", fmt.Sprintf("%d / %d / %d", r.Loss, r.Duplicates, r.Gaps), r.Scenario == scenarioFanout || r.Scenario == scenarioRooms)
	opt("deliveries/s", fmt.Sprintf("%.0f", r.DeliveriesPerS), r.DeliveriesPerS > 0)
	opt("room", r.RoomID, r.RoomID != "")
	opt("seeded (msg/s)", fmt.Sprintf("%d (%.0f)", r.Seeded, r.SeedPerS), r.Seeded > 0)
	opt("pages / messages read", fmt.Sprintf("%d / %d", r.Pages, r.MessagesRead), r.Pages > 0)
	opt("latency p50 / p95 / p99 / max (ms)", fmt.Sprintf("%.3f / %.3f / %.3f / %.3f", r.P50Ms, r.P95Ms, r.P99Ms, r.MaxMs), r.MaxMs > 0)
	row("elapsed (s)", fmt.Sprintf("%.1f", r.ElapsedS))
	for _, e := range r.Errors {
		row("error", e)
	}
	for _, n := range r.Notes {
		row("note", n)
	}
	row("result", map[bool]string{true: "OK", false: "FAILED"}[r.OK])
	if err := tw.Flush(); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func kib(raw, gc *int64) string {
	return fmt.Sprintf("%s (after GC: %s)", orNA(raw), orNA(gc))
}

func perConn(raw, gc *float64) string {
	f := func(v *float64) string {
		if v == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.1f", *v)
	}
	return fmt.Sprintf("%s (after GC: %s)", f(raw), f(gc))
}

func goroutines(r result) string {
	per := "n/a"
	if r.GoroutinesPerConn != nil {
		per = fmt.Sprintf("%.2f", *r.GoroutinesPerConn)
	}
	return strings.Join([]string{orNA(r.GoroutinesBefore), orNA(r.Goroutines), per}, " / ")
}

func orNA(v *int64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprint(*v)
}
