package rpc

import (
	"context"

	"connectrpc.com/connect"

	pb "github.com/nordkapp42/nordkapp42/internal/gen/nordkapp42/v1"
)

// memberService implements nordkapp42.v1.MemberService.
type memberService struct{ *calls }

// UpsertMember creates or renames a member.
func (s memberService) UpsertMember(ctx context.Context, req *connect.Request[pb.UpsertMemberRequest]) (*connect.Response[pb.UpsertMemberResponse], error) {
	m, err := s.svc.UpsertMember(ctx, req.Msg.GetMemberId(), req.Msg.GetName())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.UpsertMemberResponse{Member: memberPB(m)}), nil
}

// GetMember returns a member.
func (s memberService) GetMember(ctx context.Context, req *connect.Request[pb.GetMemberRequest]) (*connect.Response[pb.GetMemberResponse], error) {
	m, err := s.svc.Member(ctx, req.Msg.GetMemberId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.GetMemberResponse{Member: memberPB(m)}), nil
}
