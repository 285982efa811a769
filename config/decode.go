package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decodeStrict decodes a YAML document into the raw struct pointed to by out.
// It walks the node tree itself so that an unknown key, a repeated key or a
// value of the wrong type is reported with its full dotted key and line; the
// library decoder (with KnownFields) then fills the struct.
func decodeStrict(b []byte, out any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return errors.New("empty file: at least interfaces, ipv4.address and ipv6.address are required")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("parse yaml: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return errors.New("parse yaml: expected one document")
	}
	if err := decodeNode(doc.Content[0], reflect.ValueOf(out).Elem(), ""); err != nil {
		return err
	}
	// Backstop: the library's own strict mode must agree that every key is known.
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(reflect.New(reflect.TypeOf(out).Elem()).Interface()); err != nil {
		return fmt.Errorf("decode yaml: %w", err)
	}
	return nil
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func decodeNode(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if reflect.PointerTo(v.Type()).Implements(unmarshalerType) || v.Kind() != reflect.Struct {
		return decodeLeaf(n, v, path)
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("%sline %d: expected a mapping of keys", keyPrefix(path), n.Line)
	}
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := join(path, k.Value)
		if k.Value == "<<" {
			return fmt.Errorf("line %d: merge keys are not supported", k.Line)
		}
		if seen[k.Value] {
			return fmt.Errorf("line %d: key %s is repeated", k.Line, key)
		}
		seen[k.Value] = true
		f, ok := fieldByTag(v, k.Value)
		if !ok {
			return fmt.Errorf("line %d: unknown key %s (known: %s)", k.Line, key, knownKeys(v.Type()))
		}
		if err := decodeNode(val, f, key); err != nil {
			return err
		}
	}
	return nil
}

// decodeLeaf decodes a scalar, sequence or custom type and rewrites the
// library's error into one naming the key.
func decodeLeaf(n *yaml.Node, v reflect.Value, path string) error {
	if err := checkScalarForm(n, v.Type()); err != nil {
		return fmt.Errorf("%s: line %d: %w", path, n.Line, err)
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		var ke *keyError
		if errors.As(err, &ke) {
			return fmt.Errorf("%s: line %d: %s", path, n.Line, ke.msg)
		}
		return fmt.Errorf("%s: line %d: %q is not %s", path, n.Line, nodeText(n), describe(v.Type()))
	}
	return nil
}

// checkScalarForm refuses what the YAML library would convert silently: a
// fraction into an integer (it truncates 1.5 to 1), YAML 1.1 booleans
// (yes, no, on, off, y, n) and capitalised ones into a boolean, and a
// non-finite number (.nan, .inf) into a number. Sequences are checked
// element by element.
func checkScalarForm(n *yaml.Node, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil // checks its own form
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice {
		for i, e := range n.Content {
			if err := checkScalarForm(e, t.Elem()); err != nil {
				return fmt.Errorf("item %d: %w", i, err)
			}
		}
		return nil
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return nil
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Tag != "!!int" {
			return fmt.Errorf("%q is not %s", n.Value, describe(t))
		}
	case reflect.Bool:
		if n.Tag != "!!bool" || (n.Value != "true" && n.Value != "false") {
			return fmt.Errorf("%q is not a boolean: write true or false", n.Value)
		}
	case reflect.Float32, reflect.Float64:
		var f float64
		if (n.Tag == "!!float" || n.Tag == "!!int") && n.Decode(&f) == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return fmt.Errorf("%q is not a finite number", n.Value)
		}
	}
	return nil
}

// keyError is returned by the custom unmarshalers: the message is final and
// only needs the key in front.
type keyError struct{ msg string }

func (e *keyError) Error() string { return e.msg }

func nodeText(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	b, err := yaml.Marshal(n)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return describe(t.Elem())
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Uint16:
		return "an integer from 0 to 65535"
	case reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(describe(t.Elem()), "a "), "an ") + "s"
	}
	return t.String()
}

func fieldByTag(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		if tagName(t.Field(i)) == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func knownKeys(t reflect.Type) string {
	var names []string
	for i := range t.NumField() {
		names = append(names, tagName(t.Field(i)))
	}
	return strings.Join(names, ", ")
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func keyPrefix(path string) string {
	if path == "" {
		return ""
	}
	return path + ": "
}

// ints is a YAML integer or a list of integers ("queues: 4" or "queues: [0, 2]").
type ints struct {
	set    bool
	scalar bool
	vals   []int
}

func (q *ints) UnmarshalYAML(n *yaml.Node) error {
	q.set = true
	switch n.Kind {
	case yaml.ScalarNode:
		v, err := strconv.Atoi(n.Value)
		if err != nil || n.Tag != "!!int" {
			return &keyError{fmt.Sprintf("%q is neither a count nor a list of queue ids", n.Value)}
		}
		q.scalar, q.vals = true, []int{v}
		return nil
	case yaml.SequenceNode:
		for i, e := range n.Content {
			v, err := strconv.Atoi(e.Value)
			if e.Kind != yaml.ScalarNode || err != nil || e.Tag != "!!int" {
				return &keyError{fmt.Sprintf("item %d: %q is not an integer", i, nodeText(e))}
			}
			q.vals = append(q.vals, v)
		}
		return nil
	}
	return &keyError{"expected an integer or a list of integers"}
}

// strs is a YAML string or a list of strings ("address: 192.0.2.1" or a list).
type strs struct {
	set  bool
	vals []string
}

func (s *strs) UnmarshalYAML(n *yaml.Node) error {
	s.set = true
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil
		}
		s.vals = []string{n.Value}
		return nil
	case yaml.SequenceNode:
		for i, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				return &keyError{fmt.Sprintf("item %d: %q is not a string", i, nodeText(e))}
			}
			s.vals = append(s.vals, e.Value)
		}
		return nil
	}
	return &keyError{"expected a string or a list of strings"}
}
