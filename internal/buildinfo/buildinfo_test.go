package buildinfo

import (
	"strings"
	"testing"
)

func TestStampedWins(t *testing.T) {
	defer func(v, r string) { version, revision = v, r }(version, revision)
	version, revision = "0.1.0+3.gabc1234", "abc1234def"
	if got := Version(); got != "0.1.0+3.gabc1234" {
		t.Errorf("Version() = %q", got)
	}
	if got := Revision(); got != "abc1234def" {
		t.Errorf("Revision() = %q", got)
	}
	if got, want := String("relayctl"), "relayctl 0.1.0+3.gabc1234 (revision abc1234def, go"; !strings.HasPrefix(got, want) {
		t.Errorf("String() = %q, want prefix %q", got, want)
	}
}

// A test binary is not stamped and has no module version.
func TestUnstamped(t *testing.T) {
	if got := Version(); got != Unstamped {
		t.Errorf("Version() = %q, want %q", got, Unstamped)
	}
	if Revision() == "" {
		t.Error("Revision() is empty")
	}
}
