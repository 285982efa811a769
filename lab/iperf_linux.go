//go:build linux

package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Iperf3Result is what one iperf3 TCP run moved.
type Iperf3Result struct {
	Sender, Receiver Node
	SentBytes        int64
	ReceivedBytes    int64
	BitsPerSecond    float64
	Retransmits      int
}

func (r Iperf3Result) String() string {
	return fmt.Sprintf("iperf3 %s -> %s: sent %d B, received %d B, %.1f Mbit/s, %d retransmits",
		r.Sender, r.Receiver, r.SentBytes, r.ReceivedBytes, r.BitsPerSecond/1e6, r.Retransmits)
}

// Iperf3 runs an iperf3 TCP test of size bytes between an iperf3 server
// listening on serverAddr in server's namespace and a client in client's:
// the client sends, or with reverse the server does. Unlike TCPTransfer it
// is a separate program with its own socket options, as users measure.
func (l *Lab) Iperf3(ctx context.Context, client, server Node, serverAddr netip.Addr, size int64, reverse bool) (Iperf3Result, error) {
	res := Iperf3Result{Sender: client, Receiver: server}
	if reverse {
		res.Sender, res.Receiver = server, client
	}
	port := strconv.Itoa(5201 + int(size%97))
	srv, err := startProcess(l.dir, "iperf3-server", l.Namespace(server),
		[]string{"iperf3", "--server", "--one-off", "--bind", serverAddr.String(), "--port", port})
	if err != nil {
		return res, err
	}
	defer srv.stop(syscall.SIGTERM, time.Second)
	// The server binds within milliseconds: retry the client while it
	// cannot connect (iperf3 reports that in its JSON, whatever its exit
	// status) and ctx lasts.
	var r struct {
		Error string `json:"error"`
		End   struct {
			SumSent struct {
				Bytes         int64   `json:"bytes"`
				BitsPerSecond float64 `json:"bits_per_second"`
				Retransmits   int     `json:"retransmits"`
			} `json:"sum_sent"`
			SumReceived struct {
				Bytes int64 `json:"bytes"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	for {
		argv := []string{"iperf3", "--client", serverAddr.String(), "--port", port, "--bytes", strconv.FormatInt(size, 10),
			"--json", "--connect-timeout", "3000"}
		if reverse {
			argv = append(argv, "--reverse")
		}
		// Unmarshal leaves the fields the JSON lacks alone: a run that
		// succeeds after a refused one has no "error" to clear the old one.
		r.Error = ""
		out, err := l.Command(ctx, client, argv...).Output()
		if jerr := json.Unmarshal(out, &r); jerr != nil {
			return res, fmt.Errorf("iperf3 client in %s: %v: output %w: %s", client, err, jerr, out)
		}
		if r.Error == "" {
			break
		}
		if !isConnectError(r.Error) || ctx.Err() != nil || srv.exited() {
			return res, fmt.Errorf("iperf3 %s -> %s: %s (server log: %s)", res.Sender, res.Receiver, r.Error, srv.logTail(500))
		}
		time.Sleep(100 * time.Millisecond)
	}
	res.SentBytes, res.ReceivedBytes = r.End.SumSent.Bytes, r.End.SumReceived.Bytes
	res.BitsPerSecond, res.Retransmits = r.End.SumSent.BitsPerSecond, r.End.SumSent.Retransmits
	return res, nil
}

func isConnectError(s string) bool {
	return strings.Contains(s, "unable to connect") || strings.Contains(s, "Connection refused")
}
