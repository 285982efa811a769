// Package enumlabel names the values of the small enums that the relay, the
// server and the data plane count per worker and export as metric label
// values: drop reasons and event kinds (relay.DropReason,
// relay.ICMPv6Kind, server.DropReason, server.ForwardKind, server.RAKind,
// dataplane.Reason).
//
// Each of those packages keeps its own const block (iota, a Num... sentinel
// that sizes its counter arrays) and declares the labels next to it as a
// Table, a keyed composite literal indexed by the constants:
//
//	var dropReasonNames = enumlabel.Table[DropReason]{
//		DropIPv4Malformed: "ipv4_malformed",
//		...
//	}
//
//	func (r DropReason) String() string { return dropReasonNames.Label(r) }
//
// Appending a value is one line in the const block and one in the table.
// Labels are stable: a value is never renumbered or renamed, only appended,
// because Prometheus series and dashboards key on the strings. Each
// package's tests pin the labels it has (Check and a golden list), so a
// changed label fails a test while an appended one does not.
package enumlabel
