// Package loadgen is the benchmark's load generator. Frames are sent with the
// kernel's live-frames mode (BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES,
// Linux ≥ 5.18, root): the XDP program in bench/internal/benchbpf runs once per
// frame, writes the header of one of up to 65536 precomputed packet variants
// ("slots", chosen round robin by sequence number) over the frame, stamps the
// probe record (sequence number, and a send timestamp on one packet in
// ProbeEvery) and returns XDP_TX, which the kernel turns into a transmission
// out of the ingress device — about 4 Mpps from one core into a veth whose
// peer runs a native XDP program (docs/… afxdp.md §6).
//
// Traffic kinds (see Kind): decapsulation (Teredo from N clients with
// consistent mappings to native hosts), encapsulation (native IPv6 to N
// Teredo addresses), direct bubbles from the clients, and garbage (malformed
// Teredo payloads and spoofed mappings) mixed with legitimate decapsulation
// traffic. A Generator sends at a target rate (paced in short bursts) or as
// fast as possible, bounded by a count and a deadline.
package loadgen
