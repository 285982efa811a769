package testenv

import (
	"errors"
	"testing"
)

func TestRequireBinaryMissingFailsInCI(t *testing.T) {
	old := lookPath
	defer func() { lookPath = old }()
	lookPath = func(string) (string, error) { return "", errors.New("not found") }
	t.Setenv("CI", "true")
	ft := &fakeTB{TB: t}
	func() {
		defer func() { recover() }()
		RequireBinary(ft, "nope")
	}()
	if !ft.fatal {
		t.Fatal("RequireBinary did not fail with CI set and the binary missing")
	}
}

type fakeTB struct {
	testing.TB
	fatal bool
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(string, ...any) {
	f.fatal = true
	panic("fatal")
}
func (f *fakeTB) Fatal(...any) {
	f.fatal = true
	panic("fatal")
}
