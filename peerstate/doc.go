// Package peerstate keeps the relay's trusted peers across restarts: it
// writes them to a file in the daemon's state directory (on SIGTERM and
// periodically) and reads them back at start, so that a restarted relay
// forwards its clients' next packets in both directions without a new
// bubble exchange.
//
// # File format, version 1
//
// All integers are big-endian. A 32-byte header is followed by Count
// records of 32 bytes each:
//
//	header  0  magic "TRLYPEER" (8 bytes)
//	        8  version (uint16) = 1
//	       10  record length (uint16) = 32
//	       12  count (uint32): records that follow
//	       16  saved at (int64): Unix time in nanoseconds (wall clock)
//	       24  reserved (uint32) = 0
//	       28  checksum (uint32): CRC-32 (IEEE) of the records, continued
//	           over header bytes 0..27
//	record  0  Teredo IPv6 address (16 bytes, in 2001::/32)
//	       16  mapped IPv4 address (4 bytes)
//	       20  mapped UDP port (uint16, not 0)
//	       22  reserved (uint16) = 0
//	       24  last receive (int64): Unix time in nanoseconds (wall clock)
//
// The checksum covers the records first so that a writer can stream them
// and fill in the header last. The file size must be exactly 32 + 32 × count
// bytes: a truncated file, extra bytes, another magic, another version or
// record length, a non-zero reserved field, more records than the reader's
// limit or a wrong checksum reject the whole file (Load returns an error and
// passes no record on). A record that passes the checksum but not the
// record checks (address outside 2001::/32, mapping 0.0.0.0 or port 0,
// reserved bits, last receive not after 1970) is skipped and counted.
//
// # Writing
//
// Save writes a temporary file in the target's directory, syncs it,
// renames it over the target and syncs the directory, so that a crash at
// any point leaves the previous file or the new one, never a mixture. At
// most a limit of records are written (the size cap); the rest are counted
// as skipped.
//
// # Reading back
//
// Restore classifies each record by the age of its last receive at load
// time (wall clock): younger than the trust window (the relay's peer
// validity, 30 s) it comes back trusted and is used for encapsulation at
// once; older, it comes back stale: trusted but due for re-verification, so
// the next native packet for it starts a bubble exchange while the client's
// own packet from its mapping refreshes it, exactly as for a peer that went
// quiet in a running relay; older than the maximum age (the relay's idle
// timeout, after which the sweep would remove it) it is dropped. A last
// receive after the file's save time is invalid; a save time after the load
// time (the clock was stepped back) makes every record stale. A policy
// function refuses records the relay would not accept now (bogon mapping,
// one of its own addresses). A file that cannot be read is a warning for
// the caller and an empty table, never a reason not to start.
//
// Parsing a header or record does not allocate (tested); Load streams the
// file twice (checksum, then records) through one buffer, so its memory
// does not grow with the table.
package peerstate
