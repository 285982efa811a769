package enumlabel

import (
	"strings"
	"testing"
)

type color uint8

const (
	red color = iota
	green
	blue
	numColors
)

func TestLabel(t *testing.T) {
	tab := Table[color]{red: "red", blue: "blue"}
	for _, tt := range []struct {
		v    color
		want string
	}{{red, "red"}, {green, Unknown}, {blue, "blue"}, {numColors, Unknown}, {255, Unknown}} {
		if got := tab.Label(tt.v); got != tt.want {
			t.Errorf("Label(%d) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		tab  Table[color]
		err  string
	}{
		{"complete", Table[color]{red: "red", green: "green_2", blue: "blue"}, ""},
		{"missing", Table[color]{red: "red", blue: "blue"}, "value 1 has no label"},
		{"short", Table[color]{red: "red", green: "green"}, "value 2 has no label"},
		{"too long", Table[color]{red: "red", green: "green", blue: "blue", numColors: "x"}, "4 labels for 3 values"},
		{"duplicate", Table[color]{red: "red", green: "red", blue: "blue"}, `share the label "red"`},
		{"not snake case", Table[color]{red: "red", green: "Green", blue: "blue"}, "not snake_case"},
		{"dash", Table[color]{red: "red", green: "gr-een", blue: "blue"}, "not snake_case"},
		{"leading digit", Table[color]{red: "red", green: "2green", blue: "blue"}, "not snake_case"},
		{"unknown", Table[color]{red: "red", green: Unknown, blue: "blue"}, "value 1 has no label"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.tab.Check(numColors)
			if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Check = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestPin(t *testing.T) {
	tab := Table[color]{red: "red", green: "green", blue: "blue"}
	if err := tab.Pin([]string{"red", "green"}); err != nil {
		t.Fatalf("prefix: %v", err)
	}
	if err := tab.Pin([]string{"red", "verde"}); err == nil || !strings.Contains(err.Error(), `"green", was "verde"`) {
		t.Fatalf("renamed label: %v", err)
	}
	if err := tab.Pin([]string{"red", "green", "blue", "alpha"}); err == nil {
		t.Fatal("a pinned label that disappeared passed")
	}
}
