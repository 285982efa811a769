// Package teredotest holds Teredo test doubles that run on loopback without
// privileges: a minimal Teredo server answering Router Solicitations, shared
// by the client package's and teredo-probe's tests.
package teredotest
