package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nordkapp42/nordkapp42/internal/domain"
)

// Outbox relay settings.
const (
	// RelayMinAge is how old an unpublished event must be before the relay
	// publishes it: younger ones are still being published by their node.
	RelayMinAge = time.Second
	// relayInterval is how often every node looks for orphaned events, so an
	// event whose node died after commit is published within about
	// RelayMinAge + relayInterval.
	relayInterval = 500 * time.Millisecond
	relayBatch    = 500
	// markInterval batches the marking of published events into one write.
	markInterval = 100 * time.Millisecond
	// markQueue bounds the keys waiting to be marked; when full, keys are
	// dropped and their events merely published once more by the relay.
	markQueue = 8192
)

// WithOutbox makes the service record every event it publishes as published
// in o, and lets RunOutbox relay the events no node published. Call it once,
// before serving.
func (s *Service) WithOutbox(o Outbox) *Service {
	s.outbox = o
	s.published = make(chan EventKey, markQueue)
	return s
}

// markPublished queues an event to be marked published, never blocking the
// write path.
func (s *Service) markPublished(k EventKey) {
	if s.published == nil {
		return
	}
	select {
	case s.published <- k:
	default:
	}
}

// RunOutbox marks published events in batches and relays orphaned ones until
// ctx ends. Every node runs it; the store hands each orphaned event to one
// node at a time. Without an outbox it waits for ctx and returns.
func (s *Service) RunOutbox(ctx context.Context) error {
	if s.outbox == nil {
		<-ctx.Done()
		return nil
	}
	mark := time.NewTicker(markInterval)
	defer mark.Stop()
	relay := time.NewTicker(relayInterval)
	defer relay.Stop()
	var pending []EventKey
	flush := func(ctx context.Context) {
		if len(pending) == 0 {
			return
		}
		if err := s.outbox.MarkPublished(ctx, pending); err != nil {
			// Unmarked events are relayed again later: a duplicate that
			// subscribers drop by seq, not a loss.
			s.log.WarnContext(ctx, "mark events published", "count", len(pending), "err", err)
		}
		pending = pending[:0]
	}
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			flush(fctx)
			cancel()
			return nil
		case k := <-s.published:
			pending = append(pending, k)
		case <-mark.C:
			flush(ctx)
		case <-relay.C:
			n, err := s.outbox.RelayUnpublished(ctx, RelayMinAge, relayBatch, s.publishAll)
			if err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "relay unpublished events", "err", err)
			} else if n > 0 {
				s.log.InfoContext(ctx, "relayed unpublished events", "count", n)
			}
		}
	}
}

// publishAll publishes events for the relay; it fails if any publish failed,
// which leaves them all pending.
func (s *Service) publishAll(ctx context.Context, events []domain.Event) error {
	var errs []error
	for i := range events {
		if err := s.publishEvent(ctx, &events[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("publish %d events: %w", len(errs), err)
	}
	return nil
}
