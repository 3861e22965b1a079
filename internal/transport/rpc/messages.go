package rpc

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	pb "github.com/nordkapp42/nordkapp42/internal/gen/nordkapp42/v1"
)

// messageService implements nordkapp42.v1.MessageService.
type messageService struct{ *calls }

// errShuttingDown ends the streams open when the server shuts down.
var errShuttingDown = connect.NewError(connect.CodeUnavailable,
	errors.New("the server is shutting down: resume with the cursor of the last event received"))

// SendMessage posts a text as the actor, or as the system.
func (s messageService) SendMessage(ctx context.Context, req *connect.Request[pb.SendMessageRequest]) (*connect.Response[pb.SendMessageResponse], error) {
	in := req.Msg
	var msg domain.Message
	var err error
	if in.GetSystem() {
		if in.GetActorId() != "" {
			return nil, domain.Errorf(domain.ErrInvalid, "a system message has no actor: leave actor_id empty")
		}
		msg, err = s.svc.PostSystemMessage(ctx, in.GetRoomId(), in.GetText(), in.GetClientMessageId())
	} else {
		var actor string
		if actor, err = s.actor(ctx, in.GetActorId()); err != nil {
			return nil, err
		}
		msg, err = s.svc.SendMessage(ctx, actor, in.GetRoomId(), in.GetText(), in.GetClientMessageId())
	}
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.SendMessageResponse{Message: messagePB(&msg)}), nil
}

// ListMessages pages a room's history.
func (s messageService) ListMessages(ctx context.Context, req *connect.Request[pb.ListMessagesRequest]) (*connect.Response[pb.ListMessagesResponse], error) {
	in := req.Msg
	actor, err := s.actor(ctx, in.GetActorId())
	if err != nil {
		return nil, err
	}
	page, err := s.svc.Messages(ctx, actor, in.GetRoomId(), app.PageArgs{
		First: optionalInt(in.First), After: optionalString(in.GetAfter()),
		Last: optionalInt(in.Last), Before: optionalString(in.GetBefore()),
	})
	if err != nil {
		return nil, err
	}
	out := &pb.ListMessagesResponse{Messages: make([]*pb.Message, len(page.Items)), PageInfo: pageInfoPB(page)}
	for i := range page.Items {
		out.Messages[i] = messagePB(&page.Items[i])
	}
	return connect.NewResponse(out), nil
}

// StreamRoomEvents streams a room's events with the guarantees of
// app.Service.RoomEvents, until the client goes away, the actor may no
// longer see the room, or the server shuts down.
func (s messageService) StreamRoomEvents(ctx context.Context, req *connect.Request[pb.StreamRoomEventsRequest], stream *connect.ServerStream[pb.StreamRoomEventsResponse]) error {
	in := req.Msg
	actor, err := s.actor(ctx, in.GetActorId())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.streams, cancel)
	defer stop()

	// ended is written by the stream's goroutine before it closes events,
	// and read here only after events is closed.
	var ended error
	events, err := s.svc.RoomEvents(ctx, actor, in.GetRoomId(), optionalString(in.GetAfter()), func(err error) { ended = err })
	if err != nil {
		return err
	}
	// Send the response headers now: the stream is live, and a client
	// waiting for them may go on (Connect clients wait before they read).
	if err := stream.Send(nil); err != nil {
		cancel()
		for range events { //nolint:revive // drain: wait for the stream's goroutine to end
		}
		return err
	}
	for e := range events {
		if err := stream.Send(&pb.StreamRoomEventsResponse{Event: eventPB(e)}); err != nil {
			cancel()
			for range events { //nolint:revive // drain: wait for the stream's goroutine to end
			}
			return err
		}
	}
	if s.streams.Err() != nil {
		return errShuttingDown
	}
	return ended
}
