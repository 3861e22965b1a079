package main

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// Latencies are recorded in microseconds into a log-linear histogram: values
// below 2^subBits exactly, larger ones in buckets 1/64 of their power of two
// wide (under 1.6 % relative error). A fixed-size histogram keeps the cost of
// a delivery constant whatever the run's size, and merges exactly across
// processes, which raw samples of a 2-million-delivery run would not do
// cheaply.
const (
	subBits      = 7
	subCount     = 1 << subBits // 128 exact values
	halfSub      = subCount / 2 // sub-buckets per power of two above them
	maxShift     = 40 - subBits // up to 2^40 µs (12 days): beyond is clipped
	bucketCount  = subCount + maxShift*halfSub
	maxRecording = int64(1)<<40 - 1
)

// bucketOf returns the index of the bucket holding v (v ≥ 0).
func bucketOf(v int64) int {
	if v < subCount {
		return int(v)
	}
	if v > maxRecording {
		v = maxRecording
	}
	shift := bits.Len64(uint64(v)) - subBits // ≥ 1
	top := v >> shift                        // in [64, 128)
	return subCount + (shift-1)*halfSub + int(top-halfSub)
}

// bucketHigh returns the largest value bucket i holds.
func bucketHigh(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	shift := (i-subCount)/halfSub + 1
	top := int64((i-subCount)%halfSub + halfSub)
	return (top+1)<<shift - 1
}

// bucketHighOf is bucketHigh of an index read from a child's report.
func bucketHighOf(i uint64) int64 {
	if i >= bucketCount {
		return maxRecording
	}
	return bucketHigh(int(i))
}

// histogram counts latencies; record is safe for concurrent use.
type histogram struct {
	counts [bucketCount]atomic.Uint64
	max    atomic.Int64
}

// record adds one value in microseconds; negative values (clock steps) count
// as zero.
func (h *histogram) record(us int64) {
	us = max(us, 0)
	h.counts[bucketOf(us)].Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// snapshot returns the histogram in its sparse, mergeable form.
func (h *histogram) snapshot() histSnapshot {
	s := histSnapshot{Max: h.max.Load()}
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			s.Buckets = append(s.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return s
}

// histSnapshot is a histogram as children report it: [bucket, count] pairs
// in bucket order, and the exact maximum.
type histSnapshot struct {
	Buckets [][2]uint64 `json:"buckets,omitempty"`
	Max     int64       `json:"max"`
}

// merge returns the sum of two snapshots.
func (s histSnapshot) merge(o histSnapshot) histSnapshot {
	counts := map[uint64]uint64{}
	for _, b := range s.Buckets {
		counts[b[0]] += b[1]
	}
	for _, b := range o.Buckets {
		counts[b[0]] += b[1]
	}
	out := histSnapshot{Max: max(s.Max, o.Max)}
	for i := range uint64(bucketCount) {
		if c := counts[i]; c > 0 {
			out.Buckets = append(out.Buckets, [2]uint64{i, c})
		}
	}
	return out
}

// count returns the number of recorded values.
func (s histSnapshot) count() uint64 {
	var n uint64
	for _, b := range s.Buckets {
		n += b[1]
	}
	return n
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) in
// microseconds: the upper end of the bucket holding that rank, never above
// the exact maximum; NaN for an empty snapshot.
func (s histSnapshot) percentile(p float64) float64 {
	n := s.count()
	if n == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	var seen uint64
	for _, b := range s.Buckets {
		seen += b[1]
		if seen >= rank {
			return float64(min(bucketHighOf(b[0]), s.Max))
		}
	}
	return float64(s.Max)
}

// seqTracker checks one subscription's stream of room events, whose seq the
// server promises to be 1, 2, 3… in order with no gap: an event whose seq is
// not above the last one seen is a duplicate (or out of order), one that
// skips numbers reveals lost events. The subscription's first event sets the
// starting point, since it may follow a cursor the tool never parsed.
type seqTracker struct {
	last       int64
	duplicates int64
	gaps       int64 // events skipped, summed over all jumps
}

// observe takes one event's seq and reports whether it is new.
func (t *seqTracker) observe(seq int64) bool {
	switch {
	case t.last == 0:
	case seq <= t.last:
		t.duplicates++
		return false
	case seq > t.last+1:
		t.gaps += seq - t.last - 1
	}
	t.last = seq
	return true
}

// lossOf returns the deliveries that never arrived: expected ones minus
// those that did, never negative (messages whose send failed but still
// committed may arrive unannounced).
func lossOf(expected, delivered int64) int64 { return max(expected-delivered, 0) }
