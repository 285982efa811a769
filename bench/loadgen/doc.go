// Package loadgen is the benchmark's load generator. It has two methods
// (Method) behind one Generator interface, chosen once per topology by Open:
//
//   - Live frames (LiveFrames): BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES
//     (Linux ≥ 5.18, root). The XDP program in bench/internal/benchbpf runs
//     once per frame, writes the header of one of up to 65536 precomputed
//     packet variants ("slots", chosen round robin by sequence number) over
//     the frame, stamps the probe record (sequence number, and a send
//     timestamp on one packet in ProbeEvery) and returns XDP_TX (or
//     XDP_REDIRECT to the second device), which the kernel turns into a
//     transmission — about 4 Mpps from one core into a veth whose peer runs a
//     native XDP program (afxdp.md §6). Some kernels refuse the mode (EPERM).
//   - AF_XDP (AFXDP): one copy-mode AF_XDP socket (package xsk) per device;
//     Go writes the same frames (Traffic.writeFrame mirrors the program) into
//     UMEM frames, batches them on the TX ring, and the kernel sends them in
//     sendto, building an skb per frame. It works wherever AF_XDP works.
//
// Auto probes live frames with a one-frame run (ProbeLiveFrames) and uses
// them where the kernel permits them, AF_XDP otherwise; MethodEnv overrides
// the choice of a benchmark run, so the AF_XDP path can be exercised on a
// machine that allows live frames.
//
// Traffic kinds (see Kind): decapsulation (Teredo from N clients with
// consistent mappings to native hosts), encapsulation (native IPv6 to N
// Teredo addresses), direct bubbles from the clients, and garbage (malformed
// Teredo payloads and spoofed mappings) mixed with legitimate decapsulation
// traffic. A Generator sends at a target rate (paced: in the program per
// frame, or per batch in Go) or as fast as possible, bounded by a count and
// a deadline.
package loadgen
