package graphql

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// limits refuses operations nested deeper than maxDepth or costlier than
// maxComplexity before they run, so one request cannot make the server walk
// an unbounded graph (rooms → messages → room → messages …).
type limits struct {
	es            graphql.ExecutableSchema
	maxDepth      int
	maxComplexity int
}

var _ interface {
	graphql.OperationContextMutator
	graphql.HandlerExtension
} = limits{}

// ExtensionName names the extension for gqlgen.
func (limits) ExtensionName() string { return "Limits" }

// Validate checks the extension's settings.
func (l limits) Validate(graphql.ExecutableSchema) error {
	if l.maxDepth <= 0 || l.maxComplexity <= 0 {
		return fmt.Errorf("limits must be positive")
	}
	return nil
}

// MutateOperationContext measures the operation and refuses it when over a limit.
func (l limits) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if d := depth(rc.Operation.SelectionSet, 0, map[string]bool{}); d > l.maxDepth {
		return tooBig("query is nested %d levels deep; the limit is %d", d, l.maxDepth)
	}
	if c := complexity.Calculate(ctx, l.es, rc.Operation, rc.Variables); c > l.maxComplexity {
		return tooBig("query complexity is %d; the limit is %d", c, l.maxComplexity)
	}
	return nil
}

func tooBig(format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{Message: fmt.Sprintf(format, args...), Extensions: map[string]any{"code": CodeBadUserInput}}
}

// depth returns the deepest field nesting of a selection set, following
// fragments; a fragment already on the path counts once (validation rejects
// fragment cycles, this only keeps the walk finite).
func depth(set ast.SelectionSet, level int, onPath map[string]bool) int {
	deepest := level
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if len(s.SelectionSet) == 0 {
				d = level + 1
			} else {
				d = depth(s.SelectionSet, level+1, onPath)
			}
		case *ast.InlineFragment:
			d = depth(s.SelectionSet, level, onPath)
		case *ast.FragmentSpread:
			if s.Definition == nil || onPath[s.Name] {
				continue
			}
			onPath[s.Name] = true
			d = depth(s.Definition.SelectionSet, level, onPath)
			delete(onPath, s.Name)
		}
		deepest = max(deepest, d)
	}
	return deepest
}
