package bpf

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; "" means valid
	}{
		{"relay both sides", Config{Addrs: []netip.Addr{a("198.51.100.1")}, SteerIPv4: true, SteerIPv6: true}, ""},
		{"server two addresses", Config{Addrs: []netip.Addr{a("192.0.2.1"), a("192.0.2.2")}, SteerIPv4: true}, ""},
		{"ipv6 arm without addresses", Config{SteerIPv6: true}, ""},
		{"mapped address is unmapped", Config{Addrs: []netip.Addr{a("::ffff:192.0.2.1")}, SteerIPv4: true}, ""},
		{"eight addresses", Config{Addrs: addrRange(8), SteerIPv4: true}, ""},
		{"nothing enabled", Config{Addrs: []netip.Addr{a("192.0.2.1")}}, "neither"},
		{"ipv4 without addresses", Config{SteerIPv4: true}, "at least one"},
		{"nine addresses", Config{Addrs: addrRange(9), SteerIPv4: true}, "at most 8"},
		{"ipv6 address", Config{Addrs: []netip.Addr{a("2001:db8::1")}, SteerIPv4: true}, "not IPv4"},
		{"zero address", Config{Addrs: []netip.Addr{{}}, SteerIPv4: true}, "not IPv4"},
		{"unspecified", Config{Addrs: []netip.Addr{a("0.0.0.0")}, SteerIPv4: true}, "not unicast"},
		{"multicast", Config{Addrs: []netip.Addr{a("224.0.0.253")}, SteerIPv4: true}, "not unicast"},
		{"broadcast", Config{Addrs: []netip.Addr{a("255.255.255.255")}, SteerIPv4: true}, "not unicast"},
		{"duplicate", Config{Addrs: []netip.Addr{a("192.0.2.1"), a("::ffff:192.0.2.1")}, SteerIPv4: true}, "twice"},
		{"invalid address when ipv4 is off", Config{Addrs: []netip.Addr{a("2001:db8::1")}, SteerIPv6: true}, "not IPv4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("validate = %v, want ErrInvalidConfig containing %q", err, tt.wantErr)
			}
		})
	}
}

func addrRange(n int) []netip.Addr {
	var out []netip.Addr
	for i := range n {
		out = append(out, netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i)}))
	}
	return out
}

func TestConfigPort(t *testing.T) {
	if got := (&Config{}).port(); got != 3544 {
		t.Errorf("default port = %d, want 3544", got)
	}
	if got := (&Config{Port: 3545}).port(); got != 3545 {
		t.Errorf("port = %d, want 3545", got)
	}
}

func TestAttachModeRoundTrip(t *testing.T) {
	for _, m := range []AttachMode{AttachAuto, AttachNative, AttachGeneric} {
		got, err := ParseAttachMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseAttachMode(%q) = %v, %v; want %v", m.String(), got, err, m)
		}
	}
	for in, want := range map[string]AttachMode{"": AttachAuto, "driver": AttachNative, "skb": AttachGeneric} {
		if got, err := ParseAttachMode(in); err != nil || got != want {
			t.Errorf("ParseAttachMode(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseAttachMode("offload"); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("ParseAttachMode(offload) = %v, want ErrInvalidConfig", err)
	}
	if s := AttachMode(7).String(); s != "AttachMode(7)" {
		t.Errorf("AttachMode(7).String() = %q", s)
	}
}

func TestReasonLabels(t *testing.T) {
	seen := map[string]Reason{}
	for _, r := range Reasons() {
		label := r.String()
		if label == "" || strings.ToLower(label) != label || strings.ContainsAny(label, " -") {
			t.Errorf("reason %d label %q: want a non-empty lower_snake_case label", r, label)
		}
		if prev, dup := seen[label]; dup {
			t.Errorf("reasons %d and %d share label %q", prev, r, label)
		}
		seen[label] = r
		if wantSteer := strings.HasPrefix(label, "steer_"); r.Steered() != wantSteer {
			t.Errorf("%v.Steered() = %v", r, r.Steered())
		}
		if wantDrop := strings.HasPrefix(label, "drop_"); r.Dropped() != wantDrop {
			t.Errorf("%v.Dropped() = %v", r, r.Dropped())
		}
		if !strings.HasPrefix(label, "steer_") && !strings.HasPrefix(label, "pass_") && !strings.HasPrefix(label, "drop_") {
			t.Errorf("label %q: want prefix steer_, pass_ or drop_", label)
		}
	}
	if got, want := Reason(NumReasons).String(), "reason_"+strconv.Itoa(NumReasons); got != want {
		t.Errorf("unknown reason label = %q, want %s", got, want)
	}
}

func TestReasonStringAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = ReasonPassIPv4Fragment.String() }); n != 0 {
		t.Fatalf("Reason.String allocates %v times", n)
	}
}

func TestCountersSums(t *testing.T) {
	var c Counters
	c[ReasonSteerIPv4UDP] = 3
	c[ReasonSteerIPv6Teredo] = 4
	c[ReasonPassARP] = 5
	if c.Total() != 12 || c.Steered() != 7 {
		t.Fatalf("Total, Steered = %d, %d; want 12, 7", c.Total(), c.Steered())
	}
}

// TestModel checks the reference model against the hand-written
// expectations, so that FuzzSteer compares the program with a trusted oracle.
func TestModel(t *testing.T) {
	for _, tc := range steerCases() {
		if got := modelReason(tc.frame, modelOf(testConfig)); got != tc.want {
			t.Errorf("%s: model says %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, pc := range pcapCases {
		frames, err := readPcap(pc.file)
		if err != nil {
			t.Fatal(err)
		}
		got := map[Reason]int{}
		for _, f := range frames {
			got[modelReason(f, modelOf(pc.cfg))]++
		}
		if !mapsEqual(got, pc.want) {
			t.Errorf("%s: model totals %v, want %v", pc.file, got, pc.want)
		}
	}
}

func mapsEqual(a, b map[Reason]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
