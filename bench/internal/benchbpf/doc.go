// Package benchbpf holds the benchmark's two XDP programs, compiled with
// bpf2go (gen.c: the live-frames load generator; sink.c: the counting sink)
// and the Go mirror of their shared definitions in bench.h. Regenerate with
// `go generate ./bench/internal/benchbpf` (clang-19); the outputs are
// committed like bpf/'s.
package benchbpf
