package dataplane

import (
	"testing"
	"time"
)

func TestIdlerSpinsThenSleeps(t *testing.T) {
	us := int64(time.Microsecond)
	i := newIdler(200 * time.Microsecond)
	steps := []struct {
		name string
		busy bool  // a Step that received frames
		now  int64 // for idle steps
		want int
	}{
		{name: "first empty step spins", now: 1000 * us, want: -1},
		{name: "still inside the spin", now: 1199 * us, want: -1},
		{name: "spin over: short sleep", now: 1200 * us, want: busyPollMillis},
		{name: "second short sleep", now: 2300 * us, want: busyPollMillis},
		{name: "then long sleeps", now: 3400 * us, want: idlePollMillis},
		{name: "and again", now: 103400 * us, want: idlePollMillis},
		{name: "frames arrive", busy: true},
		{name: "new idle period spins again", now: 200000 * us, want: -1},
		{name: "its spin runs from its own start", now: 200150 * us, want: -1},
		{name: "and ends with a short sleep", now: 200200 * us, want: busyPollMillis},
	}
	for _, s := range steps {
		if s.busy {
			i.busy()
			continue
		}
		if got := i.next(s.now); got != s.want {
			t.Fatalf("%s: next(%d µs) = %d, want %d", s.name, s.now/us, got, s.want)
		}
	}
}

func TestIdlerWithoutSpinSleepsAtOnce(t *testing.T) {
	i := newIdler(-1)
	if got := i.next(5); got != busyPollMillis {
		t.Fatalf("next = %d, want %d", got, busyPollMillis)
	}
}

func TestNewWorkerDefaultIdleSpin(t *testing.T) {
	for _, tt := range []struct {
		in, want time.Duration
	}{{0, DefaultIdleSpin}, {-1, -1}, {50 * time.Microsecond, 50 * time.Microsecond}} {
		s := newFakeSocket(4)
		w, err := NewWorker(WorkerConfig{Ports: []Port{{Socket: s, Receive: true}}, Relay: &fakeRelay{}, Hops: hops(), IdleSpin: tt.in})
		if err != nil {
			t.Fatal(err)
		}
		if w.idleSpin != tt.want {
			t.Errorf("IdleSpin %v: worker spins %v, want %v", tt.in, w.idleSpin, tt.want)
		}
	}
}
