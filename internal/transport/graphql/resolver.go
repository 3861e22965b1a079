// Package graphql is the GraphQL transport of nordkapp42: the schema, the
// resolvers (thin: decode, call a use case, encode) and the one place where
// domain errors become extensions.code.
package graphql

//go:generate go tool gqlgen generate

import (
	"context"
	"errors"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/auth"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/transport/graphql/model"
	"github.com/nordkapp42/nordkapp42/internal/transport/stream"
)

// Resolver is the root resolver; it holds the use cases.
type Resolver struct {
	svc *app.Service
}

// actor returns the authenticated member the request acts for.
func (r *Resolver) actor(ctx context.Context) (string, error) {
	if id, ok := auth.FromContext(ctx); ok {
		return id.MemberID, nil
	}
	if err := auth.ErrorFromContext(ctx); err != nil {
		return "", err
	}
	return "", domain.Errorf(domain.ErrUnauthenticated, "authentication required: send Authorization: Bearer <token>")
}

// member loads a member for a field; a member that does not exist resolves
// to an error, since every member field is about someone who took part.
func (r *Resolver) member(ctx context.Context, id string) (*domain.Member, error) {
	m, err := r.svc.Member(ctx, id)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// endStream tells the streaming transport why a subscription ended, so that
// the client gets a clear error rather than a plain completion.
func (r *Resolver) endStream(ctx context.Context) app.Done {
	return func(err error) {
		if err != nil {
			stream.Fail(ctx, presentError(ctx, err))
		}
	}
}

func withActor[T any](ctx context.Context, r *Resolver, fn func(actor string) (T, error)) (*T, error) {
	actor, err := r.actor(ctx)
	if err != nil {
		return nil, err
	}
	v, err := fn(actor)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// nullIfNotFound turns "not found" into a null result, as nullable lookups
// (room, member, message) answer.
func nullIfNotFound[T any](v T, err error) (*T, error) {
	if errors.Is(err, domain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &v, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func value(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func pageInfo[T any](p app.Page[T]) *model.PageInfo {
	info := &model.PageInfo{HasNextPage: p.HasNextPage, HasPreviousPage: p.HasPreviousPage}
	if n := len(p.Cursors); n > 0 {
		info.StartCursor, info.EndCursor = &p.Cursors[0], &p.Cursors[n-1]
	}
	return info
}

func roomConnection(p app.Page[domain.Room]) *model.RoomConnection {
	edges := make([]model.RoomEdge, len(p.Items))
	for i := range p.Items {
		edges[i] = model.RoomEdge{Cursor: p.Cursors[i], Node: &p.Items[i]}
	}
	return &model.RoomConnection{Edges: edges, PageInfo: pageInfo(p)}
}

// optionalRoom resolves a room reference that may be empty, or point at a
// room the viewer can no longer see: both are null.
func (r *Resolver) optionalRoom(ctx context.Context, roomID string) (*domain.Room, error) {
	if roomID == "" {
		return nil, nil
	}
	actor, err := r.actor(ctx)
	if err != nil {
		return nil, err
	}
	return nullIfNotFound(r.svc.RoomIfVisible(ctx, actor, roomID))
}
