package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// gqlClient sends queries and mutations over HTTP POST, reusing its
// connections across concurrent callers.
type gqlClient struct {
	url  string
	http *http.Client
}

func newGQLClient(baseURL string, conns int) *gqlClient {
	return &gqlClient{
		url: strings.TrimRight(baseURL, "/") + "/graphql",
		http: &http.Client{Transport: &http.Transport{
			MaxIdleConns:        max(conns, 100),
			MaxIdleConnsPerHost: max(conns, 100),
			IdleConnTimeout:     90 * time.Second,
		}},
	}
}

// do runs one operation as the member token names and decodes its data into
// out (when not nil); GraphQL errors are returned as an error.
func (c *gqlClient) do(ctx context.Context, token, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body)) //nolint:gosec // the operator names the server
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req) //nolint:gosec // the operator names the server
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("status %d: %.300s", resp.StatusCode, b)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("graphql: %s", r.Errors[0])
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.300s", resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			return fmt.Errorf("decode data: %w", err)
		}
	}
	return nil
}

func (c *gqlClient) close() { c.http.CloseIdleConnections() }
