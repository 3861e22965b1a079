package stream

import (
	"encoding/json"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
)

// appendResult appends the JSON of resp to dst. A plain result (data only,
// the common case of a subscription) is spliced in as it is: its data is
// already the JSON the executor wrote, and json.Marshal would only copy and
// re-validate it. Anything else goes through json.Marshal.
func appendResult(dst []byte, resp *graphql.Response) ([]byte, error) {
	if len(resp.Errors) == 0 && resp.Label == "" && resp.Path == nil && resp.HasNext == nil && resp.Extensions == nil {
		dst = append(dst, `{"data":`...)
		if len(resp.Data) == 0 {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, resp.Data...)
		}
		return append(dst, '}'), nil
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return dst, fmt.Errorf("encode result: %w", err)
	}
	return append(dst, b...), nil
}

// framePrefix is the start of every result frame of operation id, up to
// and including the payload key; encoded once per operation.
func framePrefix(id, typ string) ([]byte, error) {
	quotedID, err := json.Marshal(id)
	if err != nil {
		return nil, fmt.Errorf("encode operation id: %w", err)
	}
	p := make([]byte, 0, len(quotedID)+len(typ)+32)
	p = append(p, `{"id":`...)
	p = append(p, quotedID...)
	p = append(p, `,"type":"`...)
	p = append(p, typ...)
	p = append(p, `","payload":`...)
	return p, nil
}
