package rpc

import (
	"context"

	"connectrpc.com/connect"

	"github.com/nordkapp42/nordkapp42/internal/app"
	"github.com/nordkapp42/nordkapp42/internal/domain"
	pb "github.com/nordkapp42/nordkapp42/internal/gen/nordkapp42/v1"
)

// reminderService implements nordkapp42.v1.ReminderService.
type reminderService struct{ *calls }

// task encodes a task with its current reminder.
func (c *calls) task(ctx context.Context, t domain.Task) (*pb.Task, error) {
	latest, err := c.svc.LatestReminder(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	return taskPB(t, latest), nil
}

// SetTaskDates creates or updates a task's dates and reminder.
func (s reminderService) SetTaskDates(ctx context.Context, req *connect.Request[pb.SetTaskDatesRequest]) (*connect.Response[pb.SetTaskDatesResponse], error) {
	in := req.Msg
	actor, err := s.actor(ctx, in.GetActorId())
	if err != nil {
		return nil, err
	}
	startAt, err := timeOf("start_at", in.GetStartAt())
	if err != nil {
		return nil, err
	}
	dueAt, err := timeOf("due_at", in.GetDueAt())
	if err != nil {
		return nil, err
	}
	t, err := s.svc.SetTaskDates(ctx, actor, app.TaskDates{
		TaskID: in.GetTaskId(), Title: in.GetTitle(), URL: in.GetUrl(),
		StartAt: startAt, DueAt: dueAt, Remind: remindOffset(in.GetRemind()),
		WatcherIDs: in.GetWatcherIds(), RoomID: in.GetRoomId(),
	})
	if err != nil {
		return nil, err
	}
	out, err := s.task(ctx, t)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.SetTaskDatesResponse{Task: out}), nil
}

// ClearTaskDates removes a task's dates and cancels its pending reminder.
func (s reminderService) ClearTaskDates(ctx context.Context, req *connect.Request[pb.ClearTaskDatesRequest]) (*connect.Response[pb.ClearTaskDatesResponse], error) {
	actor, err := s.actor(ctx, req.Msg.GetActorId())
	if err != nil {
		return nil, err
	}
	t, err := s.svc.ClearTaskDates(ctx, actor, req.Msg.GetTaskId())
	if err != nil {
		return nil, err
	}
	out, err := s.task(ctx, t)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pb.ClearTaskDatesResponse{Task: out}), nil
}

// ListTasks pages the tasks the actor watches, by due date.
func (s reminderService) ListTasks(ctx context.Context, req *connect.Request[pb.ListTasksRequest]) (*connect.Response[pb.ListTasksResponse], error) {
	in := req.Msg
	actor, err := s.actor(ctx, in.GetActorId())
	if err != nil {
		return nil, err
	}
	dueAfter, err := timeOf("due_after", in.GetDueAfter())
	if err != nil {
		return nil, err
	}
	dueBefore, err := timeOf("due_before", in.GetDueBefore())
	if err != nil {
		return nil, err
	}
	page, err := s.svc.Tasks(ctx, actor, dueAfter, dueBefore,
		app.PageArgs{First: optionalInt(in.First), After: optionalString(in.GetAfter())})
	if err != nil {
		return nil, err
	}
	out := &pb.ListTasksResponse{Tasks: make([]*pb.Task, len(page.Items)), PageInfo: pageInfoPB(page)}
	for i := range page.Items {
		if out.Tasks[i], err = s.task(ctx, page.Items[i]); err != nil {
			return nil, err
		}
	}
	return connect.NewResponse(out), nil
}
