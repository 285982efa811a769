// Package miredo writes the configuration and command lines of the Miredo
// daemons (miredo, miredo-server) that the lab, the benchmark and the client
// tests run as reference implementations inside network namespaces.
package miredo
