package app

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/nordkapp42/nordkapp42/internal/domain"
	"github.com/nordkapp42/nordkapp42/internal/realtime"
	"github.com/nordkapp42/nordkapp42/internal/ulids"
)

func checkMessageID(id string) error {
	if !ulids.Valid(id) {
		return domain.Errorf(domain.ErrInvalid, "malformed message id %q", id)
	}
	return nil
}

// SendMessage posts a text into a room. A repeat with the same
// clientMessageID (by the same author into the same room) returns the first
// message and adds nothing, so a client may retry a send safely. Sending moves
// the sender's own read pointer to the new message.
func (s *Service) SendMessage(ctx context.Context, actor, roomID, text, clientMessageID string) (domain.Message, error) {
	text, err := domain.NormalizeText(text)
	if err != nil {
		return domain.Message{}, err
	}
	if utf8.RuneCountInString(clientMessageID) > domain.MaxClientMsgID {
		return domain.Message{}, domain.Errorf(domain.ErrInvalid, "clientMessageId is longer than %d characters", domain.MaxClientMsgID)
	}
	if err := s.allowSend(actor); err != nil {
		return domain.Message{}, err
	}
	var msg domain.Message
	var events []domain.Event
	err = s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		events = events[:0]
		room, m, err := lockRoom(ctx, tx, actor, roomID)
		if err != nil {
			return err
		}
		if err := domain.CheckPost(room, m); err != nil {
			return err
		}
		var e *domain.Event
		if msg, e, err = s.appendMessage(ctx, tx, roomID, actor, text, clientMessageID); err != nil || e == nil {
			return err
		}
		if _, err := tx.MoveReadPointer(ctx, roomID, actor, msg.Seq, msg.ID); err != nil {
			return err
		}
		events = append(events, *e)
		return nil
	})
	if err != nil {
		return domain.Message{}, fmt.Errorf("send message: %w", err)
	}
	if err := s.presence.ClearTyping(ctx, roomID, actor); err != nil {
		s.log.WarnContext(ctx, "clear typing", "err", err)
	}
	s.publish(ctx, events)
	return msg, nil
}

// appendMessage adds a message and its MESSAGE_SENT event in tx. A
// clientMessageID the author used in the room before makes it a repeat: the
// earlier message is returned with a nil event and nothing is added.
func (s *Service) appendMessage(ctx context.Context, tx Tx, roomID, authorID, text, clientMessageID string) (domain.Message, *domain.Event, error) {
	if clientMessageID != "" {
		prev, err := tx.MessageByClientID(ctx, roomID, authorID, clientMessageID)
		if err == nil {
			return prev, nil, nil
		}
		if !errors.Is(err, domain.ErrNotFound) {
			return domain.Message{}, nil, err
		}
	}
	now := s.clock.Now()
	msg := domain.Message{ID: s.ids.New(), RoomID: roomID, AuthorID: authorID, Text: text, ClientMessageID: clientMessageID, CreatedAt: now}
	e, err := tx.AppendEvent(ctx, domain.Event{RoomID: roomID, Type: domain.EventMessageSent, At: now, ActorID: authorID, MessageID: msg.ID})
	if err != nil {
		return domain.Message{}, nil, err
	}
	msg.Seq = e.Seq
	if err := tx.InsertMessage(ctx, msg); err != nil {
		return domain.Message{}, nil, err
	}
	e.Message = &msg
	return msg, &e, nil
}

// changeMessage loads a message for an edit or delete, locks its room and
// lets check decide; it appends the event of the change.
func (s *Service) changeMessage(ctx context.Context, actor, messageID string, typ domain.EventType,
	change func(room domain.Room, m *domain.Membership, msg *domain.Message) (bool, error),
) (domain.Message, error) {
	if err := checkMessageID(messageID); err != nil {
		return domain.Message{}, err
	}
	var msg domain.Message
	var events []domain.Event
	err := s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		events = events[:0]
		var err error
		if msg, err = tx.Message(ctx, messageID); err != nil {
			return err
		}
		room, m, err := lockRoom(ctx, tx, actor, msg.RoomID)
		if errors.Is(err, domain.ErrNotFound) {
			return domain.Errorf(domain.ErrNotFound, "message %s not found", messageID)
		}
		if err != nil {
			return err
		}
		changed, err := change(room, m, &msg)
		if err != nil || !changed {
			return err
		}
		if err := tx.UpdateMessage(ctx, msg); err != nil {
			return err
		}
		e, err := tx.AppendEvent(ctx, domain.Event{RoomID: msg.RoomID, Type: typ, At: s.clock.Now(), ActorID: actor, MessageID: msg.ID})
		e.Message = &msg
		events = append(events, e)
		return err
	})
	if err != nil {
		return domain.Message{}, err
	}
	s.publish(ctx, events)
	return msg, nil
}

// EditMessage replaces the text of the actor's own message.
func (s *Service) EditMessage(ctx context.Context, actor, messageID, text string) (domain.Message, error) {
	text, err := domain.NormalizeText(text)
	if err != nil {
		return domain.Message{}, err
	}
	msg, err := s.changeMessage(ctx, actor, messageID, domain.EventMessageEdited, func(_ domain.Room, m *domain.Membership, msg *domain.Message) (bool, error) {
		if msg.AuthorID != actor {
			return false, domain.Errorf(domain.ErrForbidden, "only the author edits a message")
		}
		if m == nil {
			return false, domain.Errorf(domain.ErrForbidden, "you are no longer in this room")
		}
		if msg.Deleted() {
			return false, domain.Errorf(domain.ErrConflict, "message %s is deleted", msg.ID)
		}
		if msg.Text == text {
			return false, nil
		}
		now := s.clock.Now()
		msg.Text, msg.EditedAt = text, &now
		return true, nil
	})
	if err != nil {
		return domain.Message{}, fmt.Errorf("edit message: %w", err)
	}
	return msg, nil
}

// DeleteMessage turns a message into a tombstone: its text is emptied and
// deletedAt set. The author or a room owner/admin may delete; deleting a
// deleted message changes nothing.
func (s *Service) DeleteMessage(ctx context.Context, actor, messageID string) (domain.Message, error) {
	msg, err := s.changeMessage(ctx, actor, messageID, domain.EventMessageDeleted, func(_ domain.Room, m *domain.Membership, msg *domain.Message) (bool, error) {
		author := msg.AuthorID == actor && m != nil
		if !author && (m == nil || !m.Role.Manager()) {
			return false, domain.Errorf(domain.ErrForbidden, "only the author or a room owner or admin deletes a message")
		}
		if msg.Deleted() {
			return false, nil
		}
		now := s.clock.Now()
		msg.Text, msg.DeletedAt = "", &now
		return true, nil
	})
	if err != nil {
		return domain.Message{}, fmt.Errorf("delete message: %w", err)
	}
	return msg, nil
}

// MarkRead moves the actor's read pointer in a room forward to a message; a
// pointer never moves back.
func (s *Service) MarkRead(ctx context.Context, actor, roomID, messageID string) (domain.Room, error) {
	if err := checkMessageID(messageID); err != nil {
		return domain.Room{}, err
	}
	var moved bool
	err := s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		_, m, err := lockRoom(ctx, tx, actor, roomID)
		if err != nil {
			return err
		}
		if m == nil {
			return domain.Errorf(domain.ErrForbidden, "join the room to keep a read pointer in it")
		}
		msg, err := tx.Message(ctx, messageID)
		if err != nil {
			return err
		}
		if msg.RoomID != roomID {
			return domain.Errorf(domain.ErrNotFound, "message %s not found in room %s", messageID, roomID)
		}
		moved, err = tx.MoveReadPointer(ctx, roomID, actor, msg.Seq, msg.ID)
		return err
	})
	if err != nil {
		return domain.Room{}, fmt.Errorf("mark read: %w", err)
	}
	if moved {
		s.signal(ctx, domain.Signal{Type: domain.SignalRead, RoomID: roomID, MemberID: actor, At: s.clock.Now(), MessageID: messageID},
			realtime.MemberTopic(actor))
	}
	return s.reloadRoom(ctx, roomID)
}

// SetTyping tells the room the actor is typing; it stays true for
// domain.TypingTTL unless repeated.
func (s *Service) SetTyping(ctx context.Context, actor, roomID string) error {
	room, m, err := s.Room(ctx, actor, roomID)
	if err != nil {
		return fmt.Errorf("set typing: %w", err)
	}
	if err := domain.CheckPost(room, m); err != nil {
		return fmt.Errorf("set typing: %w", err)
	}
	now := s.clock.Now()
	if err := s.presence.SetTyping(ctx, roomID, actor, now.Add(domain.TypingTTL)); err != nil {
		return fmt.Errorf("set typing: %w", err)
	}
	s.signal(ctx, domain.Signal{Type: domain.SignalTyping, RoomID: roomID, MemberID: actor, At: now})
	return nil
}
