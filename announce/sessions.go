package announce

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// BIRD accepting the configuration that announces the prefixes (Status
// Confirmed and Announced) is not the prefixes reaching the IX: that needs
// a BGP session in state Established whose export filter passes them. The
// driver asks BIRD for both: "show protocols" for the sessions and "show
// route <prefix> export <session>" for what each Established session
// exports.

// DefaultSessionPoll is how often the driver asks BIRD about its sessions.
const DefaultSessionPoll = 10 * time.Second

// Session is one BGP protocol of BIRD as "show protocols" lists it.
type Session struct {
	Name string
	// State is BIRD's protocol state (up, start, down, ...) and Info its
	// BGP state and any message ("Established", "Connect", "Active
	// Socket: Connection refused").
	State, Info string
	// Established is an up session in BGP state Established.
	Established bool
	// Exported lists the configured prefixes BIRD exports on this session
	// (asked only for Established sessions).
	Exported []netip.Prefix
}

// Sessions is the last answer about BIRD's BGP sessions.
type Sessions struct {
	Time time.Time
	List []Session
	// Err is why BIRD could not be asked (empty: List is its answer).
	Err string
}

// ExportedOn returns the Established sessions that export every prefix.
func (s Sessions) ExportedOn(prefixes []netip.Prefix) []string {
	var out []string
	for _, ss := range s.List {
		if ss.Established && len(prefixes) > 0 && containsAll(ss.Exported, prefixes) {
			out = append(out, ss.Name)
		}
	}
	return out
}

func containsAll(have, want []netip.Prefix) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

// birdcArgv is birdc with numeric reply codes (-v) on socket, running cmd.
func birdcArgv(birdc, socket string, cmd ...string) []string {
	argv := []string{birdc, "-v"}
	if socket != "" {
		argv = append(argv, "-s", socket)
	}
	return append(argv, cmd...)
}

// QuerySessions asks BIRD (through runner, each birdc run bounded by
// timeout) for its BGP sessions and, for each Established one, which of
// prefixes it exports.
func QuerySessions(ctx context.Context, runner Runner, birdc, socket string, prefixes []netip.Prefix, timeout time.Duration) (Sessions, error) {
	out, err := runBirdc(ctx, runner, timeout, birdcArgv(birdc, socket, "show", "protocols"))
	if err != nil {
		return Sessions{}, fmt.Errorf("birdc show protocols: %w", err)
	}
	list, err := ParseProtocols(out)
	if err != nil {
		return Sessions{}, fmt.Errorf("birdc show protocols: %w", err)
	}
	for i := range list {
		s := &list[i]
		if !s.Established {
			continue
		}
		for _, p := range prefixes {
			out, err := runBirdc(ctx, runner, timeout, birdcArgv(birdc, socket, "show", "route", p.String(), "export", s.Name))
			if err != nil {
				return Sessions{}, fmt.Errorf("birdc show route %s export %s: %w", p, s.Name, err)
			}
			if routeListed(out, p) {
				s.Exported = append(s.Exported, p)
			}
		}
	}
	return Sessions{List: list}, nil
}

func runBirdc(ctx context.Context, runner Runner, timeout time.Duration, argv []string) ([]byte, error) {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := runner.Run(rctx, argv)
	if rctx.Err() != nil {
		return nil, fmt.Errorf("timed out after %v", timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, clip(strings.TrimSpace(string(out))))
	}
	return out, nil
}

// ParseProtocols reads birdc -v's answer to "show protocols" and returns
// its BGP protocols. The header (code 2002) names the columns; each
// protocol is one line (code 1002, or a continuation line starting with a
// space): Name Proto Table State Since Info, where Since may be one or two
// words and Info several.
func ParseProtocols(out []byte) ([]Session, error) {
	var list []Session
	sawHeader := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		code, text, coded := replyCode(line)
		switch {
		case coded && (code[0] == '8' || code[0] == '9'):
			return nil, fmt.Errorf("bird error %s: %s", code, clip(text))
		case coded && code == "2002":
			sawHeader = true
			continue
		case coded && code == "1002":
		case !coded && strings.HasPrefix(line, " ") && sawHeader:
			text = strings.TrimSpace(line)
		default:
			continue
		}
		f := strings.Fields(text)
		if len(f) < 4 || f[1] != "BGP" {
			continue
		}
		s := Session{Name: f[0], State: f[3]}
		// Since is a time ("17:53:03.035") or a date and a time; the
		// info starts at the first word that is neither.
		rest := f[4:]
		for len(rest) > 0 && looksLikeTime(rest[0]) {
			rest = rest[1:]
		}
		s.Info = strings.Join(rest, " ")
		s.Established = s.State == "up" && len(rest) > 0 && rest[0] == "Established"
		list = append(list, s)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !sawHeader {
		return nil, fmt.Errorf("no protocol table in the reply: %s", clip(strings.TrimSpace(string(out))))
	}
	return list, nil
}

// looksLikeTime is true for BIRD's date and time words: digits with : . -.
func looksLikeTime(w string) bool {
	if w == "" || w[0] < '0' || w[0] > '9' {
		return false
	}
	for _, c := range w {
		if !(c >= '0' && c <= '9' || c == ':' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// routeListed reports whether birdc -v's answer to "show route P export S"
// lists P: a route line (code 1007 or its continuation) starting with P.
// An error reply (e.g. 9001 for a session whose channel is down) lists
// nothing.
func routeListed(out []byte, p netip.Prefix) bool {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		code, text, coded := replyCode(line)
		if coded && code != "1007" {
			continue
		}
		if !coded {
			if !strings.HasPrefix(line, " ") {
				continue
			}
			text = line
		}
		f := strings.Fields(text)
		if len(f) > 0 {
			if q, err := netip.ParsePrefix(f[0]); err == nil && q == p {
				return true
			}
		}
	}
	return false
}
