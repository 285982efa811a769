// Package announce drives the anycast announcement of the Teredo prefix
// (2001::/32) by a BIRD 2 routing daemon from the relay's health: the prefix
// is announced while the relay is ready and not drained, and withdrawn
// otherwise.
//
// The driver never speaks BGP. It writes a BIRD include file defining a
// prefix set, atomically (temporary file, fsync, rename):
//
//	define TEREDO_ANNOUNCE = [ 2001::/32 ];   # announced
//	define TEREDO_ANNOUNCE = [ ::/128 ];      # withdrawn (BIRD refuses an empty set)
//
// and runs "birdc -v -s SOCKET configure", which makes BIRD re-read its
// configuration; the relay's BGP export filter is "where net ~
// TEREDO_ANNOUNCE". The outcome is confirmed from birdc's numeric reply
// (0003 Reconfigured, 0004/0005 reconfiguration in progress or queued); any
// other reply, a non-zero exit or a timeout is an error, retried with
// exponential backoff.
//
// Hysteresis: a withdrawal is applied at once (not ready, drained or
// stopping); an announcement only after the relay has been healthy for the
// rise time without interruption, so a flapping readiness cannot make the
// route flap faster than once per rise time.
//
// The include file is written before birdc runs, so a BIRD that is down or
// restarting picks up the current decision when it (re)starts. The machine
// that decides (machine.go) is free of I/O and time sources and is tested
// with explicit times; the Driver runs it against the clock.
package announce
