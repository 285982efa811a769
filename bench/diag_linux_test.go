//go:build linux

package bench

import (
	"reflect"
	"testing"
)

func TestCounterDelta(t *testing.T) {
	before := []byte(`{"time":"x","relay":{"DecapPackets":10,"Drops":[1,2]},"sockets":[{"interface":"r0","stats":{"RxDropped":5}}]}`)
	after := []byte(`{"time":"y","relay":{"DecapPackets":25,"Drops":[1,3]},"sockets":[{"interface":"r0","stats":{"RxDropped":5}}],"xdp":{"pass/arp":2}}`)
	got := counterDelta(before, after)
	want := []keyDelta{{"relay/DecapPackets", 15}, {"relay/Drops/1", 1}, {"xdp/pass/arp", 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("counterDelta = %v, want %v", got, want)
	}
	if got := counterDelta(nil, []byte("not json")); len(got) != 0 {
		t.Fatalf("counterDelta of garbage = %v, want none", got)
	}
}
