package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// MicroPackages are the packages whose Go benchmarks the run includes.
var MicroPackages = []string{"./relay/", "./cache/", "./teredo/"}

// DaemonPGOProfile is the profile teredo-relayd is built with (go build's
// -pgo=auto takes a main package's default.pgo), relative to the module:
// the micro-benchmarks are built with it too, so that they measure the
// code the daemon runs.
const DaemonPGOProfile = "cmd/teredo-relayd/default.pgo"

// MicroResult holds the Go micro-benchmarks' results.
type MicroResult struct {
	Command    string      `json:"command"`
	Benchmarks []Benchmark `json:"benchmarks"`
	Errors     []string    `json:"errors,omitempty"`
}

// Benchmark is one line of `go test -bench -benchmem` output.
type Benchmark struct {
	Package     string  `json:"package"`
	Name        string  `json:"name"`
	N           int64   `json:"n"`
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  int64   `json:"bytes_per_op"`
	AllocsPerOp int64   `json:"allocs_per_op"`
	MBPerSec    float64 `json:"mb_per_s,omitempty"`
}

// runMicro runs the benchmarks package by package, so that a package that
// does not compile (or has no benchmarks yet) costs only its own entry.
func runMicro(ctx context.Context, moduleDir, goTool string) *MicroResult {
	res := &MicroResult{}
	args := []string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", "200ms", "-count", "1"}
	pgo := filepath.Join(moduleDir, DaemonPGOProfile)
	if _, err := os.Stat(pgo); err == nil {
		args = append(args, "-pgo="+pgo)
	}
	res.Command = "go " + strings.Join(args, " ") + " " + strings.Join(MicroPackages, " ")
	for _, pkg := range MicroPackages {
		cmd := exec.CommandContext(ctx, goTool, append(args, pkg)...)
		cmd.Dir = moduleDir
		out, err := cmd.CombinedOutput()
		bs := parseBench(out)
		res.Benchmarks = append(res.Benchmarks, bs...)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %v: %s", pkg, err, lastLines(out, 5)))
		}
	}
	return res
}

// parseBench reads `go test -bench` output ("pkg: …" lines name the package).
func parseBench(out []byte) []Benchmark {
	var bs []Benchmark
	pkg := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(strings.TrimSpace(p), "github.com/teredorelay/teredorelay/")
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || n < 0 {
			continue
		}
		b := Benchmark{Package: pkg, Name: trimProcs(strings.TrimPrefix(f[0], "Benchmark")), N: n}
		for i := 2; i+1 < len(f); i += 2 {
			v, unit := f[i], f[i+1]
			switch unit {
			case "ns/op":
				b.NsPerOp, _ = strconv.ParseFloat(v, 64)
			case "B/op":
				b.BytesPerOp, _ = strconv.ParseInt(v, 10, 64)
			case "allocs/op":
				b.AllocsPerOp, _ = strconv.ParseInt(v, 10, 64)
			case "MB/s":
				b.MBPerSec, _ = strconv.ParseFloat(v, 64)
			}
		}
		bs = append(bs, b)
	}
	return bs
}

// trimProcs drops the "-2" GOMAXPROCS suffix.
func trimProcs(name string) string {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			return name[:i]
		}
	}
	return name
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
