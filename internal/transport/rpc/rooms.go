package rpc

import (
	"context"

	"connectrpc.com/connect"

	"github.com/nordkapp42/nordkapp42/internal/domain"
	pb "github.com/nordkapp42/nordkapp42/internal/gen/nordkapp42/v1"
)

// roomService implements nordkapp42.v1.RoomService.
type roomService struct{ *calls }

// room encodes a room as the actor sees it (a chat is named after the other
// member).
func (c *calls) room(ctx context.Context, actor string, r domain.Room) (*pb.Room, error) {
	name, err := c.svc.RoomName(ctx, actor, r)
	if err != nil {
		return nil, err
	}
	return roomPB(r, name), nil
}

// CreateRoom creates a group or channel owned by the actor.
func (s roomService) CreateRoom(ctx context.Context, req *connect.Request[pb.CreateRoomRequest]) (*connect.Response[pb.CreateRoomResponse], error) {
	actor, err := s.actor(ctx, req.Msg.GetActorId())
	if err != nil {
		return nil, err
	}
	r, err := s.svc.CreateRoom(ctx, actor, roomKind(req.Msg.GetKind()), req.Msg.GetName(), req.Msg.GetMemberIds())
	if err != nil {
		return nil, err
	}
	out, err := s.room(ctx, actor, r)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.CreateRoomResponse{Room: out}), nil
}

// AddMembers adds members to a group or channel.
func (s roomService) AddMembers(ctx context.Context, req *connect.Request[pb.AddMembersRequest]) (*connect.Response[pb.AddMembersResponse], error) {
	actor, err := s.actor(ctx, req.Msg.GetActorId())
	if err != nil {
		return nil, err
	}
	r, err := s.svc.AddRoomMembers(ctx, actor, req.Msg.GetRoomId(), req.Msg.GetMemberIds())
	if err != nil {
		return nil, err
	}
	out, err := s.room(ctx, actor, r)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.AddMembersResponse{Room: out}), nil
}

// RemoveMember removes a member from a group or channel.
func (s roomService) RemoveMember(ctx context.Context, req *connect.Request[pb.RemoveMemberRequest]) (*connect.Response[pb.RemoveMemberResponse], error) {
	actor, err := s.actor(ctx, req.Msg.GetActorId())
	if err != nil {
		return nil, err
	}
	r, err := s.svc.RemoveRoomMember(ctx, actor, req.Msg.GetRoomId(), req.Msg.GetMemberId())
	if err != nil {
		return nil, err
	}
	out, err := s.room(ctx, actor, r)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.RemoveMemberResponse{Room: out}), nil
}

// GetRoom returns a room the actor may see, with the actor's role in it.
func (s roomService) GetRoom(ctx context.Context, req *connect.Request[pb.GetRoomRequest]) (*connect.Response[pb.GetRoomResponse], error) {
	actor, err := s.actor(ctx, req.Msg.GetActorId())
	if err != nil {
		return nil, err
	}
	r, m, err := s.svc.Room(ctx, actor, req.Msg.GetRoomId())
	if err != nil {
		return nil, err
	}
	out, err := s.room(ctx, actor, r)
	if err != nil {
		return nil, err
	}
	resp := &pb.GetRoomResponse{Room: out}
	if m != nil {
		resp.ActorRole = roles[m.Role]
	}
	return connect.NewResponse(resp), nil
}
