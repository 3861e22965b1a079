package stream

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// The WebSocket framing is gobwas/ws, used at the frame level so that this
// package owns the buffers: a connection keeps no read buffer (frames are
// read from the socket as they come, and the bytes net/http had buffered
// before the upgrade are read first) and borrows a write buffer from a pool
// only while it writes, so an idle connection holds neither. The writer puts
// every frame waiting in the queue into one buffer and flushes once: a
// client that falls behind gets its backlog in few system calls instead of
// one per message.

// wsWriteBuffer is the size of the pooled write buffers.
const wsWriteBuffer = 16 << 10

var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, wsWriteBuffer) }}

// errMessageTooBig reports a client message over the read limit.
var errMessageTooBig = errors.New("message too big")

// wsIO is the framing of one accepted WebSocket.
type wsIO struct {
	conn     net.Conn
	r        io.Reader // conn, after what net/http had buffered
	protocol string
	limit    int64

	// message accumulates the fragments of a message being read.
	message []byte
}

// acceptWS upgrades r to a WebSocket speaking one of protocols (the first
// the client offers, in its order), answering a bad handshake itself.
func acceptWS(w http.ResponseWriter, r *http.Request, protocols []string, limit int64) (*wsIO, error) {
	u := ws.HTTPUpgrader{
		Protocol: func(p string) bool {
			for _, want := range protocols {
				if p == want {
					return true
				}
			}
			return false
		},
	}
	conn, rw, hs, err := u.Upgrade(r, w)
	if err != nil {
		return nil, fmt.Errorf("websocket upgrade: %w", err)
	}
	c := &wsIO{conn: conn, r: conn, protocol: hs.Protocol, limit: limit}
	if n := rw.Reader.Buffered(); n > 0 {
		// A client may send its first message right behind the handshake.
		early, _ := rw.Peek(n)
		c.r = io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn)
	}
	return c, nil
}

// incoming is one frame or message read from the client.
type incoming struct {
	op      ws.OpCode
	payload []byte
	// code is the status of a close frame.
	code ws.StatusCode
}

// read returns the next complete data message, or the next control frame
// (ping, pong, close) as it arrives between fragments.
func (c *wsIO) read() (incoming, error) {
	for {
		h, err := ws.ReadHeader(c.r)
		if err != nil {
			return incoming{}, fmt.Errorf("read frame header: %w", err)
		}
		if h.Length > c.limit || int64(len(c.message))+h.Length > c.limit {
			return incoming{}, errMessageTooBig
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(c.r, payload); err != nil {
			return incoming{}, fmt.Errorf("read frame payload: %w", err)
		}
		if h.Masked {
			ws.Cipher(payload, h.Mask, 0)
		}
		switch {
		case h.OpCode == ws.OpClose:
			code, _ := ws.ParseCloseFrameData(payload)
			return incoming{op: ws.OpClose, code: code}, nil
		case h.OpCode.IsControl():
			return incoming{op: h.OpCode, payload: payload}, nil
		case h.OpCode == ws.OpContinuation && c.message == nil:
			return incoming{}, errors.New("continuation frame without a message")
		}
		if h.OpCode != ws.OpContinuation {
			c.message = payload[:0:0]
		}
		c.message = append(c.message, payload...)
		if h.Fin {
			msg := c.message
			c.message = nil
			return incoming{op: ws.OpText, payload: msg}, nil
		}
	}
}

// writeFrames writes frames with one flush, within timeout.
func (c *wsIO) writeFrames(frames []frame, timeout time.Duration) error {
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(c.conn)
	defer func() {
		bw.Reset(nil)
		writers.Put(bw)
	}()
	if err := c.conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	for _, f := range frames {
		if err := f.writeTo(bw); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write frames: %w", err)
	}
	return nil
}

// writeTo writes f as one unfragmented frame.
func (f frame) writeTo(w io.Writer) error {
	op := f.op
	if op == 0 {
		op = ws.OpText
	}
	n := int64(len(f.head) + len(f.body))
	if f.tail != 0 {
		n++
	}
	if err := ws.WriteHeader(w, ws.Header{Fin: true, OpCode: op, Length: n}); err != nil {
		return fmt.Errorf("write frame header: %w", err)
	}
	for _, b := range [][]byte{f.head, f.body} {
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("write frame: %w", err)
		}
	}
	if f.tail != 0 {
		if _, err := w.Write([]byte{f.tail}); err != nil {
			return fmt.Errorf("write frame: %w", err)
		}
	}
	return nil
}

// closeFrame is the close frame with code and reason.
func closeFrame(code ws.StatusCode, reason string) frame {
	return frame{op: ws.OpClose, head: ws.NewCloseFrameBody(code, reason)}
}
