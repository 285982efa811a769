package config

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const examplePath = "../deploy/teredo-relayd.example.yaml"

// fileKeys returns every dotted key of the configuration file format, read
// from the raw structs' yaml tags: a struct field is a section, anything
// else (including the custom scalar types) a key.
func fileKeys(t reflect.Type, prefix string, out *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		name := tagName(f)
		if name == "" {
			continue
		}
		key := join(prefix, name)
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(unmarshalerType) {
			fileKeys(ft, key, out)
			continue
		}
		*out = append(*out, key)
	}
}

// commentedKey matches an example line that shows a key commented out,
// e.g. "  # ipv4_side: eth0" or "# roles: [relay, server]".
var commentedKey = regexp.MustCompile(`^(\s*)# ([a-z0-9_]+:(?: .*)?)$`)

// documentedKeys returns the dotted keys the example shows, set or
// commented out (the mutually exclusive ones cannot all be set).
func documentedKeys(t *testing.T, doc []byte) map[string]bool {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(string(doc), "\n") {
		if m := commentedKey.FindStringSubmatch(l); m != nil {
			l = m[1] + m[2]
		}
		lines = append(lines, l)
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(strings.Join(lines, "\n")), &root); err != nil {
		t.Fatalf("%s with its commented keys uncommented is not YAML: %v", examplePath, err)
	}
	keys := map[string]bool{}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := join(prefix, n.Content[i].Value)
			keys[k] = true
			walk(n.Content[i+1], k)
		}
	}
	walk(root.Content[0], "")
	return keys
}

// TestExampleDocumentsEveryKey: every key the file format accepts appears in
// deploy/teredo-relayd.example.yaml (set, or commented out with its
// default), and the example names no key the format lacks.
func TestExampleDocumentsEveryKey(t *testing.T) {
	doc, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	fileKeys(reflect.TypeFor[rawConfig](), "", &want)
	if len(want) < 60 {
		t.Fatalf("only %d keys found in rawConfig: the walk is broken", len(want))
	}
	got := documentedKeys(t, doc)
	for _, k := range want {
		if !got[k] {
			t.Errorf("%s does not document %s", examplePath, k)
		}
	}
	for k := range got {
		section := !slices.Contains(want, k) && slices.ContainsFunc(want, func(w string) bool { return strings.HasPrefix(w, k+".") })
		if !slices.Contains(want, k) && !section {
			t.Errorf("%s documents %s, which is not a configuration key", examplePath, k)
		}
	}
}

// The walk sees the keys added in other files (roles, server, announce,
// readiness, rate limits, endpoints).
func TestFileKeysCoverEverySection(t *testing.T) {
	var keys []string
	fileKeys(reflect.TypeFor[rawConfig](), "", &keys)
	for _, k := range []string{"roles", "server.primary", "server.rate_table_size", "announce.rise", "readiness.require_route_to",
		"rate_limits.bubble_burst", "api.admin_group", "metrics.web_config_file", "queues", "ipv4.address"} {
		if !slices.Contains(keys, k) {
			t.Errorf("fileKeys lacks %s: %v", k, keys)
		}
	}
}
