package enumlabel

import "fmt"

// Enum is the underlying type of an enum with a Table.
type Enum interface {
	~uint8 | ~uint16 | ~uint32
}

// Unknown is the label of a value that has none (out of range, or from a
// newer peer of the table).
const Unknown = "unknown"

// Table holds the labels of enum E, indexed by value.
type Table[E Enum] []string

// Label returns the label of v, or Unknown.
func (t Table[E]) Label(v E) string {
	if uint64(v) < uint64(len(t)) && t[v] != "" {
		return t[v]
	}
	return Unknown
}

// Check verifies the table of an enum with n values: every value below n
// has a label, no label exists at or beyond n, and the labels are distinct,
// non-empty snake_case ([a-z0-9_], starting with a letter) and never
// Unknown. Tests call it.
func (t Table[E]) Check(n E) error {
	if uint64(len(t)) > uint64(n) {
		return fmt.Errorf("%d labels for %d values", len(t), n)
	}
	seen := make(map[string]E, len(t))
	for v := E(0); v < n; v++ {
		l := t.Label(v)
		if l == Unknown {
			return fmt.Errorf("value %d has no label", v)
		}
		if !snakeCase(l) {
			return fmt.Errorf("value %d: label %q is not snake_case", v, l)
		}
		if w, dup := seen[l]; dup {
			return fmt.Errorf("values %d and %d share the label %q", w, v, l)
		}
		seen[l] = v
	}
	return nil
}

// Pin checks that the first len(want) values are labelled want, in order:
// the labels already exported, which must never change. Values appended
// after them are not pinned here (Check covers them).
func (t Table[E]) Pin(want []string) error {
	for i, w := range want {
		if got := t.Label(E(i)); got != w {
			return fmt.Errorf("value %d is labelled %q, was %q: exported labels must not change", i, got, w)
		}
	}
	return nil
}

func snakeCase(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}
