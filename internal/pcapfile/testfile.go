package pcapfile

import "testing"

// ReadTestFile reads the capture at path for a test (typically one of the
// repository's testdata/ captures) and returns its frames; it fails tb when
// the file cannot be read or parsed, or its link type is not linkType.
func ReadTestFile(tb testing.TB, path string, linkType LinkType) []Frame {
	tb.Helper()
	f, err := ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if f.LinkType != linkType {
		tb.Fatalf("%s: link type %d, want %d", path, f.LinkType, linkType)
	}
	return f.Frames
}
