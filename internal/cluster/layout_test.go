package cluster

import (
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
)

func TestEvenSplitThreeMasters(t *testing.T) {
	got := EvenSplit(3)
	want := []string{"0-5460", "5461-10922", "10923-16383"}
	if len(got) != len(want) {
		t.Fatalf("EvenSplit(3) has %d sets, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("EvenSplit(3)[%d] = %s, want %s", i, got[i], want[i])
		}
	}
}

// Splits printed by redis-cli 7.0.15 ("Master[i] -> Slots a - b") for
// `redis-cli --cluster create --cluster-replicas 0` with n nodes.
func TestEvenSplitRedisCli(t *testing.T) {
	for n, want := range map[int]string{
		4:  "0-4095 4096-8191 8192-12287 12288-16383",
		5:  "0-3276 3277-6553 6554-9829 9830-13106 13107-16383",
		6:  "0-2730 2731-5460 5461-8191 8192-10922 10923-13652 13653-16383",
		7:  "0-2340 2341-4680 4681-7021 7022-9361 9362-11702 11703-14042 14043-16383",
		10: "0-1637 1638-3276 3277-4914 4915-6553 6554-8191 8192-9829 9830-11468 11469-13106 13107-14745 14746-16383",
	} {
		var got []string
		for _, s := range EvenSplit(n) {
			got = append(got, s.String())
		}
		if g := strings.Join(got, " "); g != want {
			t.Errorf("EvenSplit(%d) = %s\nwant            %s", n, g, want)
		}
	}
}

func TestEvenSplitInvalid(t *testing.T) {
	for _, n := range []int{-1, 0, SlotCount + 1, 1 << 40} {
		if got := EvenSplit(n); got != nil {
			t.Errorf("EvenSplit(%d) = %v, want nil", n, got)
		}
	}
}

func checkEvenSplit(t *testing.T, n int, rs []SlotRange, even bool) {
	t.Helper()
	if len(rs) != n {
		t.Fatalf("n=%d: %d ranges", n, len(rs))
	}
	next, lo, hi := 0, SlotCount, 0
	for i, r := range rs {
		if r.Start != next || r.End < r.Start {
			t.Fatalf("n=%d: range %d is %v, want a non-empty range starting at %d", n, i, r, next)
		}
		lo, hi = min(lo, r.Len()), max(hi, r.Len())
		next = r.End + 1
	}
	if next != SlotCount {
		t.Fatalf("n=%d: ranges end at %d, want %d", n, next-1, SlotCount-1)
	}
	if even && hi-lo > 1 {
		t.Fatalf("n=%d: sizes range from %d to %d", n, lo, hi)
	}
}

func TestEvenSplitSmall(t *testing.T) {
	for n := 1; n <= 50; n++ {
		sets := EvenSplit(n)
		if len(sets) != n {
			t.Fatalf("EvenSplit(%d) has %d sets", n, len(sets))
		}
		var all SlotSet
		var rs []SlotRange
		for i, s := range sets {
			if ov := all.Intersect(s); !ov.Empty() {
				t.Fatalf("EvenSplit(%d)[%d] repeats slots %s", n, i, ov)
			}
			all = all.Union(s)
			r := s.Ranges()
			if len(r) != 1 {
				t.Fatalf("EvenSplit(%d)[%d] = %s is not one contiguous range", n, i, s)
			}
			rs = append(rs, r[0])
		}
		if !all.Full() {
			t.Fatalf("EvenSplit(%d) misses slots %s", n, all.Complement())
		}
		checkEvenSplit(t, n, rs, true)
	}
}

// Every n from 1 to 16384: contiguous, complete, no empty range; sizes
// within one where redis-cli's floats keep them so (below 2688 masters) and
// wherever the exact fallback is used.
func TestEvenSplitAll(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	fallbacks := 0
	for n := 1; n <= SlotCount; n++ {
		rs := evenSplitRanges(n)
		_, cli := redisCliSplit(n)
		if !cli {
			fallbacks++
		}
		checkEvenSplit(t, n, rs, n < 2688 || !cli)
	}
	if fallbacks != 2989 {
		t.Errorf("%d n use the exact split, want 2989", fallbacks)
	}
}

// The hash of redis-cli's split for every n where it is valid, computed by
// compiling the loop of clusterManagerCommandCreate (Redis 7.4) with gcc on
// x86-64: FNV-1a 64 over each master's last slot, n from 1 to 16384, skipping
// the 2989 n where the last master would end at 16384.
func TestEvenSplitMatchesRedisCliFloats(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	h, valid := uint64(14695981039346656037), 0
	for n := 1; n <= SlotCount; n++ {
		rs, ok := redisCliSplit(n)
		if !ok {
			continue
		}
		valid++
		for _, r := range rs {
			h ^= uint64(r.End)
			h *= 1099511628211
		}
	}
	if valid != 13395 || h != 5244357972897741392 {
		t.Errorf("valid=%d hash=%d, want valid=13395 hash=5244357972897741392", valid, h)
	}
}

func TestEvenSplitLarge(t *testing.T) {
	// redis-cli's float cursor drifts: at 2688 masters sizes are 5, 6 and 7.
	rs := evenSplitRanges(2688)
	if rs[0] != (SlotRange{0, 5}) || rs[1] != (SlotRange{6, 11}) {
		t.Errorf("2688: starts %v %v, want 0-5 6-11", rs[0], rs[1])
	}
	// At 7542 redis-cli would end at 16384; the exact split is used.
	rs = evenSplitRanges(7542)
	if got := rs[len(rs)-3:]; !reflect.DeepEqual(got, []SlotRange{{16377, 16379}, {16380, 16381}, {16382, 16383}}) {
		t.Errorf("7542: ends %v", got)
	}
	rs = evenSplitRanges(SlotCount)
	for i, r := range rs {
		if r != (SlotRange{i, i}) {
			t.Fatalf("16384: range %d is %v", i, r)
		}
	}
}

func layoutAddrs(list string) []string { return strings.Fields(list) }

func layoutString(ls []ShardLayout) string {
	var b strings.Builder
	for i, l := range ls {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(l.Master)
		if len(l.Replicas) > 0 {
			b.WriteString(" <- " + strings.Join(l.Replicas, ","))
		}
	}
	return b.String()
}

func TestPlacement(t *testing.T) {
	tests := []struct {
		name     string
		addrs    []string
		replicas int
		want     string
	}{
		{
			// The walkthrough (redis-trib.rb) and redis-cli on six loopback hosts.
			name:     "walkthrough",
			addrs:    layoutAddrs("192.168.27.11:6379 192.168.27.12:6379 192.168.27.13:6379 192.168.27.14:6379 192.168.27.15:6379 192.168.27.16:6379"),
			replicas: 1,
			want:     "192.168.27.11:6379 <- 192.168.27.15:6379 | 192.168.27.12:6379 <- 192.168.27.16:6379 | 192.168.27.13:6379 <- 192.168.27.14:6379",
		},
		{
			name:     "six loopback hosts",
			addrs:    layoutAddrs("127.0.0.1:6379 127.0.0.2:6379 127.0.0.3:6379 127.0.0.4:6379 127.0.0.5:6379 127.0.0.6:6379"),
			replicas: 1,
			want:     "127.0.0.1:6379 <- 127.0.0.5:6379 | 127.0.0.2:6379 <- 127.0.0.6:6379 | 127.0.0.3:6379 <- 127.0.0.4:6379",
		},
		{
			name:     "no replicas",
			addrs:    layoutAddrs("h1:1 h2:1 h3:1"),
			replicas: 0,
			want:     "h1:1 | h2:1 | h3:1",
		},
		{
			// redis-cli prints "Adding replica 127.0.0.1:7004 to 127.0.0.1:7000"
			// etc.; its random optimizer then finds nothing better, nor do we.
			name:     "one host",
			addrs:    layoutAddrs("127.0.0.1:7000 127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003 127.0.0.1:7004 127.0.0.1:7005"),
			replicas: 1,
			want:     "127.0.0.1:7000 <- 127.0.0.1:7004 | 127.0.0.1:7001 <- 127.0.0.1:7005 | 127.0.0.1:7002 <- 127.0.0.1:7003",
		},
		{
			// Interleaving by host: masters a1 b1 c1; rest a2 b2 c2 rotated.
			name:     "three hosts two nodes each",
			addrs:    layoutAddrs("a:1 a:2 b:1 b:2 c:1 c:2"),
			replicas: 1,
			want:     "a:1 <- b:2 | b:1 <- c:2 | c:1 <- a:2",
		},
		{
			// 7 nodes: the seventh is an extra replica of the first master.
			name:     "extra replica",
			addrs:    layoutAddrs("h1:1 h2:1 h3:1 h4:1 h5:1 h6:1 h7:1"),
			replicas: 1,
			want:     "h1:1 <- h5:1,h4:1 | h2:1 <- h6:1 | h3:1 <- h7:1",
		},
		{
			// a has 4 nodes, b 2: one replica must share its master's host.
			name:     "unavoidable same host",
			addrs:    layoutAddrs("a:1 a:2 a:3 a:4 b:1 b:2"),
			replicas: 1,
			want:     "a:1 <- b:2 | b:1 <- a:3 | a:2 <- a:4",
		},
		{
			// IPv6 literals group by address.
			name:     "ipv6",
			addrs:    layoutAddrs("[::1]:7000 [::1]:7001 [::2]:7000 [::2]:7001 [::3]:7000 [::3]:7001"),
			replicas: 1,
			want:     "[::1]:7000 <- [::2]:7001 | [::2]:7000 <- [::3]:7001 | [::3]:7000 <- [::1]:7001",
		},
	}
	// 10x(1+2) on 30 distinct hosts: masters 1-10, the rest rotated
	// (12..30, 11) handed out two at a time.
	var ten []string
	for i := 1; i <= 30; i++ {
		ten = append(ten, fmt.Sprintf("10.0.0.%d:6379", i))
	}
	var want []string
	for m := 1; m <= 10; m++ {
		r1, r2 := 10+2*m, 11+2*m
		if r2 == 31 {
			r2 = 11
		}
		want = append(want, fmt.Sprintf("10.0.0.%d:6379 <- 10.0.0.%d:6379,10.0.0.%d:6379", m, r1, r2))
	}
	tests = append(tests, struct {
		name     string
		addrs    []string
		replicas int
		want     string
	}{"10x(1+2)", ten, 2, strings.Join(want, " | ")})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Placement(tt.addrs, tt.replicas)
			if err != nil {
				t.Fatal(err)
			}
			if g := layoutString(got); g != tt.want {
				t.Errorf("got  %s\nwant %s", g, tt.want)
			}
			checkPlacement(t, tt.addrs, tt.replicas, got)
		})
	}
}

// Where redis-cli's first assignment leaves a replica on its master's host
// but an exchange fixes it, the optimizer does, deterministically. redis-cli
// 7.0 prints the first assignment as "Adding replica" lines (checked: b:2 to
// c:1, a:3 to a:1, a:2 to b:1), then reaches a perfect layout at random.
func TestPlacementOptimizes(t *testing.T) {
	in := layoutAddrs("c:1 a:1 b:1 b:2 a:2 a:3")
	want := "c:1 <- a:3 | a:1 <- b:2 | b:1 <- a:2"
	for range 3 {
		got, err := Placement(in, 1)
		if err != nil {
			t.Fatal(err)
		}
		if g := layoutString(got); g != want {
			t.Fatalf("got  %s\nwant %s", g, want)
		}
		checkPlacement(t, in, 1, got)
	}
}

// Many nodes on few hosts: the optimizer stays fast and optimal.
func TestPlacementLarge(t *testing.T) {
	var in []string
	for i := range 600 {
		in = append(in, fmt.Sprintf("10.0.0.%d:%d", i%7, 7000+i/7))
	}
	got, err := Placement(in, 2)
	if err != nil {
		t.Fatal(err)
	}
	checkPlacement(t, in, 2, got)
	in = in[:0]
	for i := range 300 {
		h := 0
		if i%5 == 0 {
			h = 1 + i%11
		}
		in = append(in, fmt.Sprintf("10.0.0.%d:%d", h, 7000+i))
	}
	got, err = Placement(in, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkPlacement(t, in, 1, got)
}

func TestPlacementErrors(t *testing.T) {
	tests := []struct {
		addrs    []string
		replicas int
		want     string
	}{
		{layoutAddrs("h1:1 h2:1 h3:1 h4:1 h5:1"), 1, "at least 3 master nodes: 5 nodes with 1 replicas per master make 2 masters; at least 6 nodes are required"},
		{layoutAddrs("h1:1 h2:1"), 0, "at least 3 master nodes: 2 nodes with 0 replicas per master make 2 masters; at least 3 nodes are required"},
		{nil, 0, "at least 3 master nodes: 0 nodes"},
		{layoutAddrs("h1:1 h2:1 h3:1"), -1, "replicas is -1"},
		{layoutAddrs("h1:1 h2:1 h1:1"), 0, `nodes[2]: address "h1:1" is already nodes[0]`},
		{layoutAddrs("h1:1 h2:1 h1:01"), 0, `nodes[2]: address "h1:01" is already nodes[0]`},
		{layoutAddrs("h1:1 h2 h3:1"), 0, "nodes[1]:"},
		{layoutAddrs("h1:1 h2:0 h3:1"), 0, "nodes[1]:"},
		{layoutAddrs("h1:1 h2:65536 h3:1"), 0, "nodes[1]:"},
		{layoutAddrs("h1:1 :6379 h3:1"), 0, "nodes[1]:"},
		{layoutAddrs("h1:1 h2:x h3:1"), 0, "nodes[1]:"},
		{layoutAddrs("h1:1 ::1:6379 h3:1"), 0, "nodes[1]:"},
	}
	for _, tt := range tests {
		_, err := Placement(tt.addrs, tt.replicas)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Placement(%q, %d) = %v, want an error containing %q", tt.addrs, tt.replicas, err, tt.want)
		}
	}
}

func layoutHost(a string) string {
	h, _, _ := net.SplitHostPort(a)
	return h
}

// checkPlacement checks the structure of a layout and that as few replicas
// as possible share their master's host, given its masters and the number
// of replicas each has.
func checkPlacement(t *testing.T, in []string, replicas int, got []ShardLayout) {
	t.Helper()
	if want := len(in) / (replicas + 1); len(got) != want {
		t.Fatalf("%d shards, want %d", len(got), want)
	}
	count := map[string]int{}
	for _, a := range in {
		count[a]++
	}
	seen := map[string]bool{}
	n := 0
	for i, s := range got {
		if len(s.Replicas) < replicas {
			t.Errorf("shard %d has %d replicas, want at least %d", i, len(s.Replicas), replicas)
		}
		for _, a := range append([]string{s.Master}, s.Replicas...) {
			if count[a] == 0 || seen[a] {
				t.Fatalf("address %q is not an input or used twice", a)
			}
			seen[a] = true
			n++
		}
	}
	if n != len(in) {
		t.Fatalf("%d addresses used, want %d", n, len(in))
	}
	// Each master has its replica count; the minimum number of replicas on
	// their master's host over all assignments with those counts is
	// max(0, R_h + S_h - N) for the one host h where that can be positive
	// (R_h: replicas on h, S_h: replica places of masters on h, N: replicas).
	repOn, placeOn := map[string]int{}, map[string]int{}
	total, same := 0, 0
	for _, s := range got {
		mh := layoutHost(s.Master)
		placeOn[mh] += len(s.Replicas)
		for _, r := range s.Replicas {
			repOn[layoutHost(r)]++
			total++
			if layoutHost(r) == mh {
				same++
			}
		}
	}
	bound := 0
	for h := range placeOn {
		bound = max(bound, repOn[h]+placeOn[h]-total)
	}
	if same != bound {
		t.Errorf("%d replicas share their master's host, the minimum is %d: %s", same, bound, layoutString(got))
	}
}

func FuzzPlacement(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5}, uint8(1))
	f.Add([]byte{0, 0, 0, 0, 0, 0}, uint8(1))
	f.Add([]byte{0, 0, 0, 0, 1, 1}, uint8(1))
	f.Add([]byte{0, 0, 0, 0, 0, 1, 1, 2}, uint8(1))
	f.Add([]byte{0, 1, 2, 0, 1, 2, 0, 1, 2, 3, 3, 3}, uint8(2))
	f.Add([]byte{0, 0, 1, 1, 2, 2, 0, 1, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, uint8(4))
	f.Fuzz(func(t *testing.T, hosts []byte, replicas uint8) {
		if len(hosts) > 200 {
			hosts = hosts[:200]
		}
		r := int(replicas % 8)
		in := make([]string, len(hosts))
		for i, h := range hosts {
			in[i] = fmt.Sprintf("10.0.0.%d:%d", h%16, 7000+i)
		}
		got, err := Placement(in, r)
		if len(in)/(r+1) < MinMasters {
			if err == nil {
				t.Fatalf("%d nodes, %d replicas: no error", len(in), r)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		checkPlacement(t, in, r, got)
		// redis-cli's rule for the replica counts: r each, the rest one per
		// master from the first.
		extra := len(in) - len(got)*(r+1)
		for i, s := range got {
			want := r + extra/len(got)
			if i < extra%len(got) {
				want++
			}
			if len(s.Replicas) != want {
				t.Fatalf("shard %d has %d replicas, want %d", i, len(s.Replicas), want)
			}
		}
	})
}

func TestRebalance(t *testing.T) {
	split := EvenSplit(3)
	// Adding a fourth shard moves only what it needs, a quarter of the slots.
	got := Rebalance([]SlotSet{split[0], split[1], split[2], {}}, SlotSet{})
	moved := 0
	var all SlotSet
	for i, s := range got {
		if s.Len() < 4096 || s.Len() > 4096 {
			t.Fatalf("shard %d gets %d slots, want 4096", i, s.Len())
		}
		if !all.Intersect(s).Empty() {
			t.Fatalf("slots given twice: %s", all.Intersect(s))
		}
		all = all.Union(s)
		if i < 3 {
			moved += split[i].Minus(s).Len()
		}
	}
	if !all.Full() || moved != 4096 {
		t.Fatalf("full %v, moved %d (want 4096)", all.Full(), moved)
	}
	// Removing one of four shards spreads its slots over the other three.
	four := EvenSplit(4)
	got = Rebalance([]SlotSet{four[0], four[1], four[3]}, four[2])
	all = SlotSet{}
	for i, s := range got {
		if s.Len() < 5461 || s.Len() > 5462 {
			t.Fatalf("shard %d gets %d slots", i, s.Len())
		}
		all = all.Union(s)
	}
	if !all.Full() {
		t.Fatal("not every slot assigned")
	}
	// An even cluster stays as it is.
	got = Rebalance(split, SlotSet{})
	for i := range split {
		if !got[i].Equal(split[i]) {
			t.Fatalf("shard %d changed: %s", i, got[i])
		}
	}
}

func FuzzRebalance(f *testing.F) {
	f.Add(uint8(3), uint8(1), uint16(100))
	f.Add(uint8(7), uint8(2), uint16(9000))
	f.Fuzz(func(t *testing.T, n, removed uint8, cut uint16) {
		shards := int(n)%12 + 1
		cur := EvenSplit(shards + int(removed)%3)
		var orphans SlotSet
		for _, s := range cur[shards:] {
			orphans = orphans.Union(s)
		}
		cur = cur[:shards]
		// An uneven start: move a cut of shard 0 to the last.
		c := int(cut) % SlotCount
		if cur[0].Has(c) && shards > 1 {
			cur[0].Remove(c)
			cur[shards-1].Add(c)
		}
		got := Rebalance(cur, orphans)
		var all SlotSet
		for i, s := range got {
			if d := s.Len() - SlotCount/shards; d < 0 || d > 1 {
				t.Fatalf("shard %d of %d gets %d slots", i, shards, s.Len())
			}
			if !all.Intersect(s).Empty() {
				t.Fatal("slot given twice")
			}
			all = all.Union(s)
		}
		if !all.Full() {
			t.Fatal("slots lost")
		}
	})
}
