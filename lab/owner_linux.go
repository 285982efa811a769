//go:build linux

package lab

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/teredorelay/teredorelay/internal/netnsutil"
)

// netnsPath is where "ip netns add" bind-mounts named namespaces.
const netnsPath = netnsutil.Dir

// labPrefix starts every namespace name the lab creates.
const labPrefix = "tlab-"

// ownerDir holds one file per running lab: "<pid> <start time>" of the
// process that owns it. A lab whose owner is gone (killed test binary) is
// swept by the next Start.
const ownerDir = "/run/teredo-lab"

// processStart returns the start time (clock ticks since boot, field 22 of
// /proc/PID/stat) of pid, or "" if the process does not exist.
func processStart(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 || f[0] == "Z" {
		return ""
	}
	return f[19]
}

// writeOwner records the calling process as the owner of lab id, and the
// lab's work directory, which a sweep removes with the namespaces.
func writeOwner(id, workDir string) error {
	if err := os.MkdirAll(ownerDir, 0o755); err != nil {
		return fmt.Errorf("owner dir: %w", err)
	}
	pid := os.Getpid()
	rec := fmt.Sprintf("%d %s\n%s\n", pid, processStart(pid), workDir)
	if err := os.WriteFile(ownerDir+"/"+id, []byte(rec), 0o644); err != nil {
		return fmt.Errorf("owner file: %w", err)
	}
	return nil
}

func removeOwner(id string) error {
	if err := os.Remove(ownerDir + "/" + id); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove owner file: %w", err)
	}
	return nil
}

// ownerAlive reports whether the process recorded for lab id still runs.
func ownerAlive(id string) bool {
	b, err := os.ReadFile(ownerDir + "/" + id)
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(first)
	if len(f) != 2 {
		return false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		return false
	}
	return processStart(pid) == f[1]
}

// sweepStale deletes the namespaces (and kills their processes) of labs
// whose owning process has exited without tearing down.
func sweepStale() error {
	ents, err := os.ReadDir(netnsPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("list namespaces: %w", err)
	}
	var errs []error
	stale := map[string]bool{}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, labPrefix) {
			continue
		}
		id, _, ok := strings.Cut(name[len(labPrefix):], "-")
		if !ok {
			continue
		}
		id = labPrefix + id
		isStale, seen := stale[id]
		if !seen {
			isStale = !ownerAlive(id)
			stale[id] = isStale
		}
		if !isStale {
			continue
		}
		if err := killNamespace(name); err != nil {
			errs = append(errs, err)
		}
		if err := runIP("netns", "del", name); err != nil {
			errs = append(errs, err)
		}
	}
	owners, err := os.ReadDir(ownerDir)
	if err == nil {
		for _, e := range owners {
			if !ownerAlive(e.Name()) {
				if dir := ownerWorkDir(e.Name()); dir != "" {
					if err := os.RemoveAll(dir); err != nil {
						errs = append(errs, fmt.Errorf("remove stale work dir: %w", err))
					}
				}
				if err := removeOwner(e.Name()); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// ownerWorkDir returns the work directory recorded for lab id, only if it is
// a lab directory in the temporary directory (never anything else).
func ownerWorkDir(id string) string {
	b, err := os.ReadFile(ownerDir + "/" + id)
	if err != nil {
		return ""
	}
	_, rest, _ := strings.Cut(string(b), "\n")
	dir := strings.TrimSpace(rest)
	if filepath.Dir(dir) != filepath.Clean(os.TempDir()) || !strings.HasPrefix(filepath.Base(dir), id+"-") {
		return ""
	}
	return dir
}
