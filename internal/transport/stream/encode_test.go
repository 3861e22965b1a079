package stream

import (
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// TestAppendResultMatchesJSONMarshal: the spliced encoding of a result says
// exactly what json.Marshal says, on the fast path and off it.
func TestAppendResultMatchesJSONMarshal(t *testing.T) {
	t.Parallel()
	yes := true
	for name, resp := range map[string]*graphql.Response{
		"data":        {Data: json.RawMessage(`{"roomEvents":{"seq":7,"text":"h\u00e9 \"quoted\""}}`)},
		"no data":     {},
		"errors":      {Errors: gqlerror.List{{Message: "boom", Extensions: map[string]any{"code": "NOT_FOUND"}}}},
		"extensions":  {Data: json.RawMessage(`{"a":1}`), Extensions: map[string]any{"cost": 3}},
		"incremental": {Data: json.RawMessage(`{"a":1}`), Label: "l", HasNext: &yes},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := appendResult([]byte("prefix:"), resp)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "prefix:"+string(want) {
				t.Errorf("appendResult = %s, want prefix:%s", got, want)
			}
		})
	}
}

func TestFramePrefixEscapesTheID(t *testing.T) {
	t.Parallel()
	p, err := framePrefix(`a"b`, "next")
	if err != nil {
		t.Fatal(err)
	}
	var frame struct{ ID, Type string }
	if err := json.Unmarshal(append(p, `null}`...), &frame); err != nil {
		t.Fatalf("prefix %s does not make a JSON frame: %v", p, err)
	}
	if frame.ID != `a"b` || frame.Type != "next" {
		t.Errorf("frame = %+v", frame)
	}
}
