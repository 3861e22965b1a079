package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// dialSSE starts s's subscription as one graphql-sse request ("distinct
// connections" mode) and its reader goroutine, once the response headers
// arrived. The request lives as long as the group, not as long as ctx, which
// only bounds the wait for the headers.
func (g *group) dialSSE(ctx context.Context, s *subscriber, client *http.Client, token string, vars map[string]any) error {
	body, err := json.Marshal(map[string]any{"query": roomEventsQuery, "variables": vars})
	if err != nil {
		return err
	}
	reqCtx, cancel := context.WithCancel(g.ctx)
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, g.spec.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		cancel()
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	stop := context.AfterFunc(ctx, cancel) // the handshake's bound
	resp, err := client.Do(req)            //nolint:bodyclose // the reader goroutine owns and closes the streaming body
	stop()
	if err != nil {
		cancel()
		return fmt.Errorf("SSE request: %w", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		_ = resp.Body.Close()
		cancel()
		return fmt.Errorf("SSE request: status %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	s.close = cancel
	g.readers.Go(func() {
		defer cancel()
		defer func() { _ = resp.Body.Close() }()
		s.end(readSSE(resp.Body, s.handle))
	})
	return nil
}

// readSSE parses an event stream, passing the data of each next event to
// onNext. It returns nil at a complete event, else why the stream ended.
// Lines are read through a small buffer that grows only for a long line,
// since thousands of streams may be open at once.
func readSSE(body io.Reader, onNext func([]byte)) error {
	r := bufio.NewReaderSize(body, 1024)
	var event string
	var data, long []byte
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, line...)
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("the server ended the stream without complete")
			}
			return err
		}
		if long != nil {
			line = append(long, line...)
			long = nil
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			switch event {
			case "next":
				onNext(data)
			case "complete":
				return nil
			}
			event, data = "", data[:0]
		case line[0] == ':': // keep-alive comment
		default:
			field, value, _ := bytes.Cut(line, []byte(":"))
			value = bytes.TrimPrefix(value, []byte(" "))
			switch string(field) {
			case "event":
				event = string(value)
			case "data":
				if len(data) > 0 {
					data = append(data, '\n')
				}
				data = append(data, value...)
			}
		}
	}
}
