package announce

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Runner runs one command line (argv[0] is the program) and returns what it
// printed on stdout and stderr together. It must stop the command when ctx
// ends. The daemon uses ExecRunner; tests inject fakes.
type Runner interface {
	Run(ctx context.Context, argv []string) ([]byte, error)
}

// ExecRunner runs commands with os/exec, in their own process group so that
// a timeout kills birdc and anything it started, with an empty environment
// apart from PATH and LANG=C (birdc needs neither; a clean environment keeps
// its output stable).
type ExecRunner struct{}

// Run implements Runner.
func (ExecRunner) Run(ctx context.Context, argv []string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("empty command line")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Bound the wait for the output pipe should a killed child's descendant
	// have left the process group and kept it open.
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return out.Bytes(), fmt.Errorf("%s: %w", argv[0], ctx.Err())
	}
	return out.Bytes(), err
}

// ConfigureArgv is the command line that makes BIRD re-read its
// configuration: birdc with numeric reply codes (-v), on socket when set.
func ConfigureArgv(birdc, socket string) []string {
	argv := []string{birdc, "-v"}
	if socket != "" {
		argv = append(argv, "-s", socket)
	}
	return append(argv, "configure")
}

// BIRD reply codes of "configure" (BIRD 2 doc/reply_codes).
const (
	codeReconfigured       = "0003" // Reconfigured
	codeReconfInProgress   = "0004" // Reconfiguration in progress (graceful)
	codeReconfQueued       = "0005" // Reconfiguration already in progress, queueing new config
	codeReconfShuttingDown = "0006" // Reconfiguration ignored, shutting down
)

// maxErrText bounds the reply text an error carries.
const maxErrText = 240

// CheckConfigureReply reads birdc -v's reply to "configure" and returns nil
// when BIRD accepted the new configuration (reply 0003, 0004 or 0005), else
// an error quoting BIRD's first error line (8xxx/9xxx runtime and parse
// errors, 0006 shutting down) or, when there is no reply code at all (birdc
// could not connect), birdc's own message.
func CheckConfigureReply(out []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	var firstUncoded string
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		code, text, ok := replyCode(line)
		if !ok {
			if firstUncoded == "" && strings.TrimSpace(line) != "" {
				firstUncoded = strings.TrimSpace(line)
			}
			continue
		}
		switch {
		case code == codeReconfigured, code == codeReconfInProgress, code == codeReconfQueued:
			return nil
		case code == codeReconfShuttingDown:
			return fmt.Errorf("bird refused: %s %s", code, clip(text))
		case code[0] == '8' || code[0] == '9':
			return fmt.Errorf("bird error %s: %s", code, clip(text))
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read birdc reply: %w", err)
	}
	if firstUncoded != "" {
		return fmt.Errorf("no confirmation from bird: %s", clip(firstUncoded))
	}
	return errors.New("no confirmation from bird: empty reply")
}

// replyCode splits a "-v" reply line "NNNN text" or "NNNN-text".
func replyCode(line string) (code, text string, ok bool) {
	if len(line) < 5 || (line[4] != ' ' && line[4] != '-') {
		return "", "", false
	}
	for i := range 4 {
		if line[i] < '0' || line[i] > '9' {
			return "", "", false
		}
	}
	return line[:4], strings.TrimSpace(line[5:]), true
}

func clip(s string) string {
	if len(s) > maxErrText {
		return s[:maxErrText] + "…"
	}
	return s
}
