package main

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBucketsCoverValuesWithBoundedError(t *testing.T) {
	t.Parallel()
	prev := -1
	for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 1000, 12345, 1 << 20, 1<<20 + 1, 987654321, maxRecording} {
		i := bucketOf(v)
		if i < prev {
			t.Fatalf("bucketOf(%d) = %d, below the previous value's %d", v, i, prev)
		}
		prev = i
		high := bucketHigh(i)
		if high < v {
			t.Fatalf("bucket %d of %d ends at %d, below the value", i, v, high)
		}
		if i > 0 && bucketHigh(i-1) >= v {
			t.Fatalf("value %d also fits the bucket before %d (ending %d)", v, i, bucketHigh(i-1))
		}
		if v >= subCount && float64(high-v) > float64(v)/64 {
			t.Fatalf("bucket of %d ends at %d: more than 1/64 above", v, high)
		}
		if v < subCount && high != v {
			t.Fatalf("small value %d not exact: %d", v, high)
		}
	}
	if bucketOf(maxRecording*4) != bucketCount-1 {
		t.Fatalf("values past the range must clip into the last bucket")
	}
}

func TestPercentilesNearestRank(t *testing.T) {
	t.Parallel()
	var h histogram
	for v := int64(1); v <= 100; v++ { // 1…100 µs, exact buckets
		h.record(v)
	}
	h.record(-5) // a clock step counts as 0
	s := h.snapshot()
	if s.count() != 101 {
		t.Fatalf("count %d, want 101", s.count())
	}
	cases := map[float64]float64{50: 50, 99: 99, 100: 100, 1: 1, 0.5: 0}
	for p, want := range cases {
		if got := s.percentile(p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if !math.IsNaN(histSnapshot{}.percentile(50)) {
		t.Error("an empty histogram has no percentile")
	}
}

func TestPercentileNeverAboveMax(t *testing.T) {
	t.Parallel()
	var h histogram
	h.record(1000) // bucket ends above 1000
	s := h.snapshot()
	if got := s.percentile(99); got != 1000 {
		t.Fatalf("p99 of a single 1000 = %v, want 1000", got)
	}
}

func TestMergeAddsCounts(t *testing.T) {
	t.Parallel()
	var a, b histogram
	for range 3 {
		a.record(10)
	}
	b.record(10)
	b.record(5000)
	got := a.snapshot().merge(b.snapshot())
	want := histSnapshot{Buckets: [][2]uint64{{10, 4}, {uint64(bucketOf(5000)), 1}}, Max: 5000}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("merge (-want +got):\n%s", d)
	}
	if got.percentile(80) != 10 || got.percentile(81) != 5000 {
		t.Fatalf("p80 %v p81 %v of merged", got.percentile(80), got.percentile(81))
	}
}

func TestSeqTrackerCountsDuplicatesAndGaps(t *testing.T) {
	t.Parallel()
	var tr seqTracker
	var fresh []bool
	for _, seq := range []int64{7, 8, 8, 9, 12, 11, 13} {
		fresh = append(fresh, tr.observe(seq))
	}
	if d := cmp.Diff([]bool{true, true, false, true, true, false, true}, fresh); d != "" {
		t.Fatalf("fresh (-want +got):\n%s", d)
	}
	if tr.duplicates != 2 || tr.gaps != 2 {
		t.Fatalf("duplicates %d gaps %d, want 2 and 2 (10 and 11 skipped; 8 repeated, 11 late)", tr.duplicates, tr.gaps)
	}
}

func TestLoss(t *testing.T) {
	t.Parallel()
	if lossOf(100, 97) != 3 || lossOf(100, 100) != 0 || lossOf(100, 101) != 0 {
		t.Fatal("loss is expected minus delivered, never negative")
	}
}

func TestGroupResultMerge(t *testing.T) {
	t.Parallel()
	a := groupResult{Subscribers: 2, Deliveries: 10, Expected: 12, Duplicates: 1, LastDelivery: 5}
	b := groupResult{Subscribers: 3, Deliveries: 15, Expected: 15, Gaps: 2, Ended: 1, LastDelivery: 9}
	got := a.merge(b)
	want := groupResult{Subscribers: 5, Deliveries: 25, Expected: 27, Duplicates: 1, Gaps: 2, Ended: 1, LastDelivery: 9}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(histSnapshot{})); d != "" {
		t.Fatalf("merge (-want +got):\n%s", d)
	}
}

func TestParseEvent(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		payload string
		want    event
		wantErr bool
	}{
		{"ws frame", `{"id":"1","type":"next","payload":{"data":{"roomEvents":{"cursor":"c","seq":42,"type":"MESSAGE_SENT","message":{"id":"x","text":"m 3 1700000000000000000","author":{"id":"a","name":"A"}}}}}}`,
			event{seq: 42, text: "m 3 1700000000000000000"}, false},
		{"sse data, no message", `{"data":{"roomEvents":{"seq":7,"type":"MEMBER_JOINED","message":null}}}`, event{seq: 7}, false},
		{"errors in a frame", `{"id":"1","type":"next","payload":{"errors":[{"message":"slow","extensions":{"code":"SLOW_CONSUMER"}}]}}`,
			event{err: "SLOW_CONSUMER: slow"}, false},
		{"no seq", `{"data":{}}`, event{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseEvent([]byte(tc.payload))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if d := cmp.Diff(tc.want, got, cmp.AllowUnexported(event{})); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestMeasuredTextRoundTrip(t *testing.T) {
	t.Parallel()
	if ns, ok := parseMeasured("m 12 1700000000123456789"); !ok || ns != 1700000000123456789 {
		t.Fatalf("got %d %v", ns, ok)
	}
	for _, bad := range []string{"probe x", "m 12", "m 12 x", "hello"} {
		if _, ok := parseMeasured(bad); ok {
			t.Errorf("%q parsed as measured", bad)
		}
	}
}

func TestReadSSE(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 3000) // longer than the reader's buffer
	stream := ": keep-alive\n\nevent: next\ndata: {\"a\":1}\n\nevent: next\ndata: " + long + "\r\n\nevent: complete\ndata:\n\n"
	var got []string
	err := readSSE(strings.NewReader(stream), func(b []byte) { got = append(got, string(b)) })
	if err != nil {
		t.Fatalf("complete should end the stream cleanly: %v", err)
	}
	if d := cmp.Diff([]string{`{"a":1}`, long}, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	if err := readSSE(strings.NewReader("event: next\ndata: {}\n\n"), func([]byte) {}); err == nil {
		t.Fatal("a stream that ends without complete is an error")
	}
}

func TestSourceAddrs(t *testing.T) {
	t.Parallel()
	got, err := sourceAddrs("", 20_000)
	if err != nil || got != nil {
		t.Fatalf("20000 connections: %v %v, want the default source", got, err)
	}
	got, err = sourceAddrs("", 45_000)
	if d := cmp.Diff([]string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, got); d != "" || err != nil {
		t.Fatalf("45000 connections (%v):\n%s", err, d)
	}
	if got, err = sourceAddrs("127.0.0.5, 127.0.0.6", 10); err != nil || len(got) != 2 {
		t.Fatalf("given: %v %v", got, err)
	}
	if _, err = sourceAddrs("10.0.0.1", 10); err == nil {
		t.Fatal("a non-loopback source must be refused")
	}
}

func TestSplitSubs(t *testing.T) {
	t.Parallel()
	subs := []subSpec{{Member: "a"}, {Member: "b"}, {Member: "c"}}
	got := splitSubs(subs, 2)
	want := [][]subSpec{{{Member: "a"}, {Member: "c"}}, {{Member: "b"}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
}

func TestCheckOpenFilesRefusesTooMany(t *testing.T) {
	t.Parallel()
	if err := checkOpenFiles(10); err != nil {
		t.Fatalf("10 connections: %v", err)
	}
	err := checkOpenFiles(1 << 30)
	if err == nil || !strings.Contains(err.Error(), "-procs") {
		t.Fatalf("want a refusal that names -procs, got %v", err)
	}
}
