// Package workpool runs short functions on goroutines that stay for a while
// after each one and take the next.
//
// The event path starts a goroutine per subscriber for every event it hands
// on (a follower's worker, a connection's writer) and lets it end once the
// event is written, so that idle subscribers cost no goroutine. A new
// goroutine starts with a minimal stack and grows it by copying on the way
// down the delivery path, which under a steady flow of events cost 16% of
// the CPU in the fan-out. A goroutine that stays a moment keeps its grown
// stack for the next event; when the flow stops, it ends.
package workpool

import "time"

// Pool runs functions on reusable goroutines. A nil *Pool starts a new
// goroutine for every function. Goroutines idle for longer than the linger
// end by themselves, so a pool needs no closing.
type Pool struct {
	linger time.Duration
	idle   chan func() // unbuffered: a send succeeds only into a waiting goroutine
}

// New returns a pool whose goroutines wait up to linger for another
// function after each one.
func New(linger time.Duration) *Pool {
	return &Pool{linger: linger, idle: make(chan func())}
}

// Go runs fn on a goroutine of the pool that is waiting for work, or on a
// new one when none is. It does not wait for fn.
func (p *Pool) Go(fn func()) {
	if p == nil {
		go fn()
		return
	}
	select {
	case p.idle <- fn:
	default:
		go p.work(fn)
	}
}

// work runs fn, then whatever Go hands it, until it has waited linger in
// vain.
func (p *Pool) work(fn func()) {
	timer := time.NewTimer(p.linger)
	defer timer.Stop()
	for {
		fn()
		timer.Reset(p.linger)
		select {
		case fn = <-p.idle:
		case <-timer.C:
			return
		}
	}
}
