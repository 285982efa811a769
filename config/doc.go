// Package config defines the teredo-relayd configuration file: a YAML document
// decoded strictly (an unknown key is an error), filled with defaults and
// validated so that every error names the key it is about, for example
//
//	config: ipv4.address: 198.51.100.300 is not an IPv4 address
//
// Load and Parse return a validated *Config. Reloadable reports which settings
// may change on SIGHUP and returns an error naming the first key that may not.
//
// The documented example file is deploy/teredo-relayd.example.yaml; a test
// keeps it loadable.
package config
