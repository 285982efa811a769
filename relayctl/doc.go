// Package relayctl implements the relayctl command line: the operator's view
// of a running teredo-relayd through its control API (control/api) on a unix
// socket. cmd/relayctl is a thin main around Main.
//
// Every command prints a human table by default and, with -o json, the API's
// JSON body byte for byte. Exit status: 0 success, 1 the daemon refused or
// failed the request, 2 usage error (an unknown command too), 3 the daemon
// cannot be reached, 4 the requested peer does not exist, 5 the caller may
// read but not change the relay (drain, undrain, reload); relayctl --help
// lists them.
package relayctl
