package app

import "github.com/nordkapp42/nordkapp42/internal/domain"

// Page is one page of a list, as the Relay cursor connection spec pages it.
type Page[T any] struct {
	Items           []T
	Cursors         []string
	HasNextPage     bool
	HasPreviousPage bool
}

// Page sizes.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// PageArgs are the Relay arguments of a list field; nil means absent.
type PageArgs struct {
	First  *int
	After  *string
	Last   *int
	Before *string
}

func checkSize(name string, n *int) error {
	if n == nil {
		return nil
	}
	if *n < 0 || *n > MaxPageSize {
		return domain.Errorf(domain.ErrInvalid, "%s must be between 0 and %d", name, MaxPageSize)
	}
	return nil
}

// forwardSize returns the page size of a forward-only list.
func (a PageArgs) forwardSize() (int, error) {
	if a.Last != nil || a.Before != nil {
		return 0, domain.Errorf(domain.ErrInvalid, "this list pages forward only: use first and after")
	}
	if err := checkSize("first", a.First); err != nil {
		return 0, err
	}
	if a.First == nil {
		return DefaultPageSize, nil
	}
	return *a.First, nil
}

// trim cuts a result fetched with one extra row to size, reporting whether
// the extra row existed.
func trim[T any](items []T, size int) ([]T, bool) {
	if len(items) > size {
		return items[:size], true
	}
	return items, false
}

func pageOf[T any](items []T, cursor func(T) string, hasNext, hasPrev bool) Page[T] {
	p := Page[T]{Items: items, HasNextPage: hasNext, HasPreviousPage: hasPrev, Cursors: make([]string, len(items))}
	for i, it := range items {
		p.Cursors[i] = cursor(it)
	}
	return p
}
