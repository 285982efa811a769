// Package clientmetrics exports the Teredo client's (teredo-client) state and
// counters to Prometheus under the teredo_client_ prefix, following the
// project's conventions (package metrics, docs/metrics.md): base units,
// counters ending in _total, closed label sets, no label ever holding an
// address. Defs is the single source of the collector's descriptors and of
// docs/client-metrics.md (TestMarkdownUpToDate keeps them together).
package clientmetrics
