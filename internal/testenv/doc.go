// Package testenv holds the few helpers tests share to decide whether they may
// run: privileged tests (root, network namespaces, BPF) skip on a developer's
// unprivileged machine but must run — and fail loudly when they cannot — in CI.
package testenv
