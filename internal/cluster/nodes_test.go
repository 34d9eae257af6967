package cluster

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// CLUSTER NODES from the tutorial this provider replaces (Redis 4/5:
// ip:port@cport, no hostname), asked on slave1 (192.168.27.14).
const walkthroughNodes = `7641530f649de98c30f4f02cdc42c299f4c339e4 192.168.27.15:6379@16379 slave 58e21837e91adc28f55cd909e22d610ba4d5e18c 0 1560479614000 5 connected
3376d3a9d73316075955fb59afa6e03b525419a9 192.168.27.12:6379@16379 master - 0 1560479614430 2 connected 5461-10922
58e21837e91adc28f55cd909e22d610ba4d5e18c 192.168.27.11:6379@16379 master - 0 1560479614000 1 connected 0-5460
cc3d1d0c9c64bbce0587507f5d4b0e3233691e2f 192.168.27.16:6379@16379 slave 3376d3a9d73316075955fb59afa6e03b525419a9 0 1560479613424 2 connected
87d5d9278ed230d0817ac36e59dd2d39487e878c 192.168.27.13:6379@16379 master - 0 1560479615436 3 connected 10923-16383
b6406a84234193e958011b21b01c410aed019091 192.168.27.14:6379@16379 myself,slave 87d5d9278ed230d0817ac36e59dd2d39487e878c 0 1560479612000 4 connected
`

// CLUSTER NODES from Redis 7.0.15 on this machine, asked on 127.0.0.1:31056
// after its master 31051 (hostname node1.example.com) was killed, 31056 won
// the failover and 31051 came back as its replica. 31055 and 31054 were
// killed; 31054 has cluster-replica-no-failover; slot 12000 was moved to 31052.
const redis70AfterFailover = "b70dc92b71f4a8ed9c8f6cc64f34850bbec55d88 127.0.0.1:31055@41055 slave,fail dca82972cb1ff5ea3335c6fa49d81d8171258f3e 1795628122028 1795628121024 3 disconnected\r\n" +
	"d66da2399b41ed9c8f844d70e2128de0d87514d4 127.0.0.1:31052@41052 master - 0 1795628157643 2 connected 5461-10922 12000\r\n" +
	"b3e94e312f76c367302003701089d1d4177fd1e5 127.0.0.1:31054@41054 slave,fail,nofailover d66da2399b41ed9c8f844d70e2128de0d87514d4 1795628146557 1795628145549 2 disconnected\r\n" +
	"dca82972cb1ff5ea3335c6fa49d81d8171258f3e 127.0.0.1:31053@41053 master - 0 1795628157643 3 connected 10923-11999 12001-16383\r\n" +
	"0cd74ea70a220182273c4fb6a104635e8491b147 127.0.0.1:31056@41056 myself,master - 0 1795628157000 7 connected 0-5460\r\n" +
	"38df7f873ab3fe3cae5b35067d8b7a92756c4d73 127.0.0.1:31051@41051,node1.example.com slave 0cd74ea70a220182273c4fb6a104635e8491b147 0 1795628157139 7 connected\r\n"

func TestParseNodesWalkthrough(t *testing.T) {
	nodes, err := ParseNodes(walkthroughNodes)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 6 {
		t.Fatalf("%d nodes, want 6", len(nodes))
	}
	var masters, replicas []string
	var all SlotSet
	for _, n := range nodes {
		switch n.Role() {
		case RoleMaster:
			masters = append(masters, n.Addr())
			all = all.Union(n.Slots)
		case RoleReplica:
			replicas = append(replicas, n.Addr()+">"+n.MasterID[:8])
		}
	}
	if got := strings.Join(masters, " "); got != "192.168.27.12:6379 192.168.27.11:6379 192.168.27.13:6379" {
		t.Errorf("masters %s", got)
	}
	if got := strings.Join(replicas, " "); got != "192.168.27.15:6379>58e21837 192.168.27.16:6379>3376d3a9 192.168.27.14:6379>87d5d927" {
		t.Errorf("replicas %s", got)
	}
	if !all.Full() {
		t.Errorf("masters miss slots %s", all.Complement())
	}
	self := nodes[5]
	if !self.Myself() || !self.IsReplica() || self.IsMaster() || self.ConfigEpoch != 4 || self.PongRecv != 1560479612000 ||
		self.BusPort != 16379 || self.Hostname != "" || self.Aux != nil || self.LinkState != "connected" {
		t.Errorf("myself line parsed as %+v", self)
	}
	if got := nodes[1].Slots.String(); got != "5461-10922" {
		t.Errorf("slots %s", got)
	}
}

func TestParseNodesRedis70(t *testing.T) {
	nodes, err := ParseNodes(redis70AfterFailover)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 6 {
		t.Fatalf("%d nodes, want 6", len(nodes))
	}
	byPort := map[int]NodeLine{}
	for _, n := range nodes {
		byPort[n.Port] = n
	}
	if n := byPort[31052]; n.Slots.String() != "5461-10922,12000" || !n.Slots.Has(12000) || n.Slots.Has(10923) {
		t.Errorf("31052 slots %s", n.Slots)
	}
	if n := byPort[31053]; !reflect.DeepEqual(n.Slots.Strings(), []string{"10923-11999", "12001-16383"}) {
		t.Errorf("31053 slots %v", n.Slots.Strings())
	}
	if n := byPort[31054]; !n.Failing() || !n.HasFlag("nofailover") || n.Role() != RoleReplica || n.LinkState != "disconnected" ||
		n.PingSent != 1795628146557 {
		t.Errorf("31054 parsed as %+v", n)
	}
	if n := byPort[31051]; n.Hostname != "node1.example.com" || n.IP != "127.0.0.1" || n.BusPort != 41051 ||
		n.Addr() != "127.0.0.1:31051" || n.MasterID != "0cd74ea70a220182273c4fb6a104635e8491b147" {
		t.Errorf("31051 parsed as %+v", n)
	}
	if n := byPort[31056]; !n.Myself() || !n.IsMaster() || n.ConfigEpoch != 7 || n.MasterID != "" {
		t.Errorf("31056 parsed as %+v", n)
	}
}

const (
	idA = "38df7f873ab3fe3cae5b35067d8b7a92756c4d73"
	idB = "d66da2399b41ed9c8f844d70e2128de0d87514d4"
)

func TestParseNodeLine(t *testing.T) {
	tests := []struct {
		name, line string
		check      func(NodeLine) error
	}{
		{
			// Redis 7.0, real: migrating slots on the source.
			name: "migrating",
			line: idA + " 127.0.0.1:31051@41051,node1.example.com myself,master - 0 1795628115000 1 connected 0-5460 [100->-" + idB + "] [5000->-" + idB + "]",
			check: func(n NodeLine) error {
				if !reflect.DeepEqual(n.Migrating, map[int]string{100: idB, 5000: idB}) || n.Importing != nil {
					return fmt.Errorf("migrating %v importing %v", n.Migrating, n.Importing)
				}
				if n.Slots.String() != "0-5460" {
					return fmt.Errorf("slots %s", n.Slots)
				}
				return nil
			},
		},
		{
			// Redis 7.0, real: importing slot on the target.
			name: "importing",
			line: idB + " 127.0.0.1:31052@41052 myself,master - 0 1795628122000 2 connected 5461-10922 12000 [100-<-" + idA + "]",
			check: func(n NodeLine) error {
				if !reflect.DeepEqual(n.Importing, map[int]string{100: idA}) || n.Migrating != nil {
					return fmt.Errorf("migrating %v importing %v", n.Migrating, n.Importing)
				}
				if n.Slots.String() != "5461-10922,12000" {
					return fmt.Errorf("slots %s", n.Slots)
				}
				return nil
			},
		},
		{
			// Redis 7.0, real: CLUSTER MEET to a port nobody listens on.
			name: "handshake",
			line: "33f4962924b328c23d4e7e347020c75c69d8dafb 127.0.0.1:31999@41999 handshake - 0 0 0 disconnected",
			check: func(n NodeLine) error {
				if !n.Handshake() || n.Role() != "" || n.Failing() {
					return fmt.Errorf("flags %v role %q", n.Flags, n.Role())
				}
				return nil
			},
		},
		{
			// Redis 7.0, real: a fresh node that never met anyone.
			name: "fresh node without IP",
			line: "9cec6b0d9bb6372cc483e556d22195acb5155940 :31059@41059 myself,master - 0 0 0 connected",
			check: func(n NodeLine) error {
				if n.IP != "" || n.Port != 31059 || n.BusPort != 41059 || n.Addr() != "" || !n.Myself() || !n.Slots.Empty() {
					return fmt.Errorf("parsed as %+v", n)
				}
				return nil
			},
		},
		{
			// Redis 7.0, real: suspected (PFAIL) replica.
			name: "fail?",
			line: "b3e94e312f76c367302003701089d1d4177fd1e5 127.0.0.1:31054@41054 slave,fail?,nofailover d66da2399b41ed9c8f844d70e2128de0d87514d4 1795628146190 1795628145182 2 disconnected",
			check: func(n NodeLine) error {
				if !n.HasFlag("fail?") || n.HasFlag("fail") || !n.Failing() || !n.HasFlag("nofailover") || !n.IsReplica() {
					return fmt.Errorf("flags %v", n.Flags)
				}
				return nil
			},
		},
		{
			name: "failed master keeps its slots",
			line: idA + " 127.0.0.1:31051@41051,node1.example.com master,fail - 1795628128089 1795628127083 1 disconnected",
			check: func(n NodeLine) error {
				if !n.Failing() || !n.IsMaster() || n.Hostname != "node1.example.com" {
					return fmt.Errorf("parsed as %+v", n)
				}
				return nil
			},
		},
		{
			name: "noaddr",
			line: idA + " :0@0 master,noaddr - 1795628128089 1795628127083 1 disconnected 0-5460",
			check: func(n NodeLine) error {
				if !n.HasFlag("noaddr") || n.IP != "" || n.Port != 0 || n.BusPort != 0 || n.Addr() != "" || n.Slots.Len() != 5461 {
					return fmt.Errorf("parsed as %+v", n)
				}
				return nil
			},
		},
		{
			name: "noflags",
			line: idA + " 10.0.0.1:6379@16379 noflags - 0 0 0 connected",
			check: func(n NodeLine) error {
				if n.Flags != nil || n.Role() != "" {
					return fmt.Errorf("flags %#v", n.Flags)
				}
				return nil
			},
		},
		{
			name: "every flag",
			line: idA + " 10.0.0.1:6379@16379 myself,master,slave,fail?,fail,handshake,noaddr,nofailover - 0 0 0 connected",
			check: func(n NodeLine) error {
				want := []string{"myself", "master", "slave", "fail?", "fail", "handshake", "noaddr", "nofailover"}
				if !reflect.DeepEqual(n.Flags, want) {
					return fmt.Errorf("flags %v", n.Flags)
				}
				return nil
			},
		},
		{
			name: "hostname and Redis 7.2 aux fields",
			line: idA + " 10.0.0.1:6379@16379,redis-1.example.com,shard-id=abc,tls-port=0 master - 0 0 1 connected 0",
			check: func(n NodeLine) error {
				if n.Hostname != "redis-1.example.com" || !reflect.DeepEqual(n.Aux, map[string]string{"shard-id": "abc", "tls-port": "0"}) {
					return fmt.Errorf("hostname %q aux %v", n.Hostname, n.Aux)
				}
				if n.Slots.String() != "0" {
					return fmt.Errorf("slots %s", n.Slots)
				}
				return nil
			},
		},
		{
			// nodes.conf of 7.2 writes an empty hostname before aux fields.
			name: "aux fields without hostname",
			line: idA + " 10.0.0.1:6379@16379,,shard-id=abc master - 0 0 1 connected",
			check: func(n NodeLine) error {
				if n.Hostname != "" || n.Aux["shard-id"] != "abc" {
					return fmt.Errorf("hostname %q aux %v", n.Hostname, n.Aux)
				}
				return nil
			},
		},
		{
			name: "no bus port (Redis 3)",
			line: idA + " 10.0.0.1:6379 master - 0 0 1 connected 0-16383",
			check: func(n NodeLine) error {
				if n.BusPort != 0 || n.Port != 6379 || !n.Slots.Full() {
					return fmt.Errorf("parsed as %+v", n)
				}
				return nil
			},
		},
		{
			name: "IPv6",
			line: idA + " ::1:6379@16379 master - 0 0 1 connected 1 3 5-6",
			check: func(n NodeLine) error {
				if n.IP != "::1" || n.Port != 6379 || n.Addr() != "[::1]:6379" {
					return fmt.Errorf("ip %q port %d addr %q", n.IP, n.Port, n.Addr())
				}
				if n.Slots.String() != "1,3,5-6" {
					return fmt.Errorf("slots %s", n.Slots)
				}
				return nil
			},
		},
		{
			name: "overlapping and adjacent ranges merge",
			line: idA + " 10.0.0.1:6379@16379 master - 0 0 1 connected 0-10 5-20 21 16383",
			check: func(n NodeLine) error {
				if n.Slots.String() != "0-21,16383" {
					return fmt.Errorf("slots %s", n.Slots)
				}
				return nil
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ParseNodeLine(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.check(n); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestParseNodeLineErrors(t *testing.T) {
	ok := idA + " 10.0.0.1:6379@16379 master - 0 0 1 connected"
	tests := []struct {
		name, line, want string
	}{
		{"too few fields", idA + " 10.0.0.1:6379@16379 master - 0 0 1", "want at least 8"},
		{"empty", "", "want at least 8"},
		{"short id", "38df7f873ab3 10.0.0.1:6379@16379 master - 0 0 1 connected", "bad node ID"},
		{"uppercase id", strings.ToUpper(idA) + " 10.0.0.1:6379@16379 master - 0 0 1 connected", "bad node ID"},
		{"bad master id", idA + " 10.0.0.1:6379@16379 slave xyz 0 0 1 connected", "bad master ID"},
		{"no port", idA + " 10.0.0.1@16379 master - 0 0 1 connected", "bad address"},
		{"bad port", idA + " 10.0.0.1:63x79@16379 master - 0 0 1 connected", "bad address"},
		{"port too big", idA + " 10.0.0.1:65536@16379 master - 0 0 1 connected", "bad address"},
		{"negative port", idA + " 10.0.0.1:-1@16379 master - 0 0 1 connected", "bad address"},
		{"bad bus port", idA + " 10.0.0.1:6379@x master - 0 0 1 connected", "bad address"},
		{"bad ping-sent", idA + " 10.0.0.1:6379@16379 master - x 0 1 connected", "bad ping-sent"},
		{"bad pong-recv", idA + " 10.0.0.1:6379@16379 master - 0 x 1 connected", "bad pong-recv"},
		{"bad epoch", idA + " 10.0.0.1:6379@16379 master - 0 0 x connected", "bad config-epoch"},
		{"slot 16384", ok + " 16384", "bad slot range"},
		{"range to 16384", ok + " 0-16384", "bad slot range"},
		{"reversed range", ok + " 5-3", "bad slot range"},
		{"negative slot", ok + " -1", "bad slot range"},
		{"word", ok + " abc", "bad slot range"},
		{"unterminated open slot", ok + " [100->-" + idB, "bad migrating/importing"},
		{"open slot bad id", ok + " [100->-abc]", "bad migrating/importing"},
		{"open slot bad slot", ok + " [16384-<-" + idB + "]", "bad migrating/importing"},
		{"open slot unknown arrow", ok + " [100<>" + idB + "]", "bad migrating/importing"},
		{"empty brackets", ok + " []", "bad migrating/importing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseNodeLine(tt.line)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseNodeLine(%q) = %v, want an error containing %q", tt.line, err, tt.want)
			}
		})
	}
	// ParseNodes stops at the first bad line and quotes it.
	_, err := ParseNodes(walkthroughNodes + idA + " 10.0.0.1:6379@16379 master - 0 0 1 connected 16384\n")
	if err == nil || !strings.Contains(err.Error(), "16384") {
		t.Errorf("ParseNodes with a bad line: %v", err)
	}
}

func TestParseNodesBlankLines(t *testing.T) {
	nodes, err := ParseNodes("\n\r\n  \n" + walkthroughNodes + "\n\n")
	if err != nil || len(nodes) != 6 {
		t.Fatalf("%d nodes, %v", len(nodes), err)
	}
	if nodes, err := ParseNodes(""); err != nil || nodes != nil {
		t.Fatalf("empty reply: %v, %v", nodes, err)
	}
}

func TestParseInfo(t *testing.T) {
	info := ParseInfo("# Cluster\r\ncluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_known_nodes:6\r\n\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n")
	want := map[string]string{"cluster_state": "ok", "cluster_slots_assigned": "16384", "cluster_known_nodes": "6", "db0": "keys=1,expires=0,avg_ttl=0"}
	if !reflect.DeepEqual(info, want) {
		t.Errorf("ParseInfo = %v", info)
	}
}

// renderSlots renders what ParseNodeLine read from the slot fields, the way
// Redis writes them: ranges, then open slots.
func renderSlots(n NodeLine) []string {
	out := n.Slots.Strings()
	var open []string
	for s, id := range n.Migrating {
		open = append(open, fmt.Sprintf("[%d->-%s]", s, id))
	}
	for s, id := range n.Importing {
		open = append(open, fmt.Sprintf("[%d-<-%s]", s, id))
	}
	sort.Strings(open)
	return append(out, open...)
}

func FuzzParseNodeLine(f *testing.F) {
	for _, text := range []string{walkthroughNodes, redis70AfterFailover} {
		for _, l := range strings.Split(text, "\n") {
			f.Add(strings.TrimSpace(l))
		}
	}
	f.Add(idA + " 127.0.0.1:31051@41051,node1.example.com myself,master - 0 1795628115000 1 connected 0-5460 [100->-" + idB + "] [5000-<-" + idB + "]")
	f.Add(idA + " :0@0 master,noaddr - 0 0 1 disconnected 1 3 5-9")
	f.Add(idA + " 10.0.0.1:6379@16379,h,shard-id=abc master - 0 0 1 connected 16383")
	f.Add(idA + " ::1:6379 slave " + idB + " 0 0 1 connected")
	f.Add("x y z")
	f.Fuzz(func(t *testing.T, line string) {
		n, err := ParseNodeLine(line)
		if err != nil {
			return
		}
		if !validNodeID(n.ID) || (n.MasterID != "" && !validNodeID(n.MasterID)) {
			t.Fatalf("accepted IDs %q %q", n.ID, n.MasterID)
		}
		if n.Port < 0 || n.Port > 65535 || n.BusPort < 0 || n.BusPort > 65535 {
			t.Fatalf("accepted ports %d %d", n.Port, n.BusPort)
		}
		for s := range n.Migrating {
			if s < 0 || s >= SlotCount {
				t.Fatalf("migrating slot %d", s)
			}
		}
		for s := range n.Importing {
			if s < 0 || s >= SlotCount {
				t.Fatalf("importing slot %d", s)
			}
		}
		// The slot ranges re-render and parse back to the same sets.
		back, err := ParseSlotSet(n.Slots.Strings())
		if err != nil || !back.Equal(n.Slots) {
			t.Fatalf("slots %s re-parse as %s, %v", n.Slots, back, err)
		}
		fields := strings.Fields(line)
		again := strings.Join(append(fields[:8:8], renderSlots(n)...), " ")
		m, err := ParseNodeLine(again)
		if err != nil {
			t.Fatalf("re-rendered %q: %v", again, err)
		}
		if !m.Slots.Equal(n.Slots) || !reflect.DeepEqual(m.Migrating, n.Migrating) || !reflect.DeepEqual(m.Importing, n.Importing) {
			t.Fatalf("re-rendered %q parses differently", again)
		}
		if !reflect.DeepEqual(m, n) {
			t.Fatalf("re-rendered %q: %+v, was %+v", again, m, n)
		}
	})
}

func TestParseSlotRange(t *testing.T) {
	good := map[string]SlotRange{
		"0": {0, 0}, "16383": {16383, 16383}, "0-16383": {0, 16383}, "5-5": {5, 5}, " 7-9 ": {7, 9}, "007": {7, 7},
	}
	for in, want := range good {
		got, err := ParseSlotRange(in)
		if err != nil || got != want {
			t.Errorf("ParseSlotRange(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "5-3", "16384", "0-16384", "-1", "a", "1-", "-", "1-2-3", "+1", "1-+2", "0x10", "1.5", "99999999999999999999"} {
		if r, err := ParseSlotRange(in); err == nil {
			t.Errorf("ParseSlotRange(%q) = %v, want an error", in, r)
		}
	}
}

func TestParseSlotSet(t *testing.T) {
	s, err := ParseSlotSet([]string{"0-5460", "5461", "10000-10001"})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != "0-5461,10000-10001" {
		t.Errorf("String() = %q", got)
	}
	if s.Len() != 5464 || s.First() != 0 || !s.Has(5461) || s.Has(5462) || s.Has(-1) || s.Has(SlotCount) {
		t.Errorf("Len %d First %d", s.Len(), s.First())
	}
	if _, err := ParseSlotSet(nil); err != nil {
		t.Errorf("empty list: %v", err)
	}
	for _, items := range [][]string{
		{"5-3"}, {"16384"}, {"-1"}, {"a"}, {"0-100", "abc"},
		{"0-100", "100"}, {"0-100", "50-200"}, {"7", "7"}, {"10-20", "0-10"},
	} {
		if got, err := ParseSlotSet(items); err == nil {
			t.Errorf("ParseSlotSet(%q) = %s, want an error", items, got)
		}
	}
	_, err = ParseSlotSet([]string{"0-100", "50-200"})
	if err == nil || !strings.Contains(err.Error(), "50-100") {
		t.Errorf("overlap error %v should name 50-100", err)
	}
}

func TestSlotSetRoundTrip(t *testing.T) {
	for _, items := range [][]string{
		nil,
		{"0"},
		{"16383"},
		{"0-16383"},
		{"0-5460", "5462", "5464-10922", "16383"},
		{"63", "64", "127-128", "8191-8192"},
	} {
		s, err := ParseSlotSet(items)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseSlotSet(s.Strings())
		if err != nil || !back.Equal(s) {
			t.Errorf("%q: Strings %q parse back as %s, %v", items, s.Strings(), back, err)
		}
		if r := NewSlotSet(s.Ranges()...); !r.Equal(s) {
			t.Errorf("%q: Ranges %v rebuild %s", items, s.Ranges(), r)
		}
		n := 0
		for _, r := range s.Ranges() {
			n += r.Len()
		}
		if n != s.Len() || len(s.Slots()) != s.Len() {
			t.Errorf("%q: range lengths %d, Slots %d, Len %d", items, n, len(s.Slots()), s.Len())
		}
	}
	// Ranges are maximal: adjacent items merge.
	s, _ := ParseSlotSet([]string{"63", "64", "65-100"})
	if got := s.Strings(); !reflect.DeepEqual(got, []string{"63-100"}) {
		t.Errorf("Strings() = %q", got)
	}
	if len((SlotSet{}).Strings()) != 0 || (SlotSet{}).String() != "" || (SlotSet{}).First() != -1 {
		t.Error("empty set renders wrong")
	}
}

func TestSlotSetAlgebra(t *testing.T) {
	a := NewSlotSet(SlotRange{0, 100}, SlotRange{200, 300})
	b := NewSlotSet(SlotRange{50, 250})
	if got := a.Complement().String(); got != "101-199,301-16383" {
		t.Errorf("Complement = %s", got)
	}
	if got := (SlotSet{}).Complement(); !got.Full() {
		t.Errorf("Complement of empty = %s", got)
	}
	if got := a.Complement().Complement(); !got.Equal(a) {
		t.Errorf("double Complement = %s", got)
	}
	if got := a.Minus(b).String(); got != "0-49,251-300" {
		t.Errorf("Minus = %s", got)
	}
	if got := b.Minus(a).String(); got != "101-199" {
		t.Errorf("Minus = %s", got)
	}
	if got := a.Minus(a); !got.Empty() {
		t.Errorf("a-a = %s", got)
	}
	if got := a.Intersect(b).String(); got != "50-100,200-250" {
		t.Errorf("Intersect = %s", got)
	}
	if got := a.Union(b).String(); got != "0-300" {
		t.Errorf("Union = %s", got)
	}
	// Value semantics: the operations leave their operands alone.
	if a.String() != "0-100,200-300" || b.String() != "50-250" {
		t.Errorf("operands changed: %s %s", a, b)
	}
	c := a
	c.Remove(0)
	c.Add(16383)
	if a.Has(16383) || !a.Has(0) || c.Has(0) || !c.Has(16383) {
		t.Error("copies share storage")
	}
	if !a.Minus(b).Union(a.Intersect(b)).Equal(a) {
		t.Error("(a-b) ∪ (a∩b) != a")
	}
}

// viewOf renders the CLUSTER NODES a member of an n-node cluster (n/2
// masters with a replica each, slots split evenly) would answer.
func viewOf(n int) string { return viewFrom(n, 0, 0) }

// viewFrom is member v's view of the cluster of viewOf: it is myself, and
// ping-sent and pong-recv differ from view to view, as in a refresh.
func viewFrom(n, v, round int) string {
	var b strings.Builder
	masters := n / 2
	split := EvenSplit(masters)
	id := func(i int) string { return fmt.Sprintf("%040x", i+1) }
	for i := range n {
		flags, master, slots := "master", "-", ""
		if i < masters {
			slots = " " + strings.Join(split[i].Strings(), " ")
		} else {
			flags, master = "slave", id(i-masters)
		}
		if i == v {
			flags = "myself," + flags
		}
		fmt.Fprintf(&b, "%s 127.0.%d.%d:6379@16379 %s %s %d %d %d connected%s\n", id(i), i/250, i%250+1, flags, master, (v+i+round)%3, 1795628157643+int64(v+i+round), i%masters+1, slots)
	}
	return b.String()
}

// BenchmarkParseNodes parses one member's view of a 200-node cluster; a
// refresh parses 200 of them.
func BenchmarkParseNodes(b *testing.B) {
	text := viewOf(200)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseNodes(text); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzFields: fields splits exactly as strings.Fields does.
func FuzzFields(f *testing.F) {
	f.Add(walkthroughNodes)
	f.Add(" a\tb\v\fc\r\n d \u00a0e\u0085f ")
	f.Fuzz(func(t *testing.T, s string) {
		var buf [4]string
		if got, want := fields(s, buf[:0]), strings.Fields(s); !reflect.DeepEqual(got, want) && (len(got) > 0 || len(want) > 0) {
			t.Fatalf("fields(%q) = %q, want %q", s, got, want)
		}
	})
}

// TestParseNodesSharesSlots: views parsed through one cache equal views
// parsed alone, and lines listing the same slots share one set.
func TestParseNodesSharesSlots(t *testing.T) {
	text := viewOf(20) + "0000000000000000000000000000000000000063 127.0.9.9:6379@16379 master - 0 0 9 connected 5-6 [7->-0000000000000000000000000000000000000001]\n"
	cache := newParseCache()
	first, err := parseNodes(text, cache)
	if err != nil {
		t.Fatal(err)
	}
	second, err := parseNodes(strings.ReplaceAll(text, "connected", "disconnected"), cache)
	if err != nil {
		t.Fatal(err)
	}
	alone, err := ParseNodes(text)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, alone) {
		t.Fatalf("cached parse differs:\n%+v\n%+v", first, alone)
	}
	shared := 0
	for i := range first {
		if !first[i].Slots.Equal(second[i].Slots) {
			t.Fatalf("line %d: slots %s, then %s", i, first[i].Slots, second[i].Slots)
		}
		if first[i].Slots.w != nil && first[i].Slots.w == second[i].Slots.w {
			shared++
		}
	}
	// 10 masters with slots share; the line with an open slot is parsed
	// on its own.
	if shared != 10 {
		t.Fatalf("%d lines share their set, want 10", shared)
	}
	if got := second[len(second)-1]; got.Slots.String() != "5-6" || got.Migrating[7] == "" {
		t.Fatalf("open-slot line parsed as %+v", got)
	}
}

// BenchmarkParseRefresh parses what a refresh of a 200-node cluster reads:
// 200 views (each its own myself line, ping-sent and pong-recv), through
// one cache as ObserveWith does.
func BenchmarkParseRefresh(b *testing.B) {
	texts := make([]string, 200)
	for v := range texts {
		texts[v] = viewFrom(200, v, 0)
	}
	b.ReportAllocs()
	for b.Loop() {
		cache := newParseCache()
		for _, text := range texts {
			if _, err := parseNodes(text, cache); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestParseNodesCachesLines: the views of a refresh parsed through one
// cache equal each view parsed alone, though every view has its own
// myself line and ping-sent and pong-recv.
func TestParseNodesCachesLines(t *testing.T) {
	cache := newParseCache()
	for v := range 6 {
		text := viewFrom(6, v, v)
		got, err := parseNodes(text, cache)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ParseNodes(text)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("view %d through the cache:\n%+v\nalone:\n%+v", v, got, want)
		}
	}
	// 6 lines as others see them, 6 as myself.
	if len(cache.lines.m) != 12 {
		t.Fatalf("cache holds %d lines, want 12", len(cache.lines.m))
	}
	// A cached line with a bad ping-sent is refused as without the cache.
	bad := strings.Replace(strings.SplitN(viewOf(6), "\n", 2)[0], " 0 1795628157643 ", " x 1795628157643 ", 1)
	_, err := parseNodeLine(bad, cache)
	_, want := ParseNodeLine(bad)
	if err == nil || want == nil || err.Error() != want.Error() {
		t.Fatalf("bad ping-sent through the cache: %v, alone: %v", err, want)
	}
}

// FuzzParseNodeLineCached: a line parsed through a cache that already
// holds it, or a line that differs only in ping-sent and pong-recv, parses
// exactly as it does alone, errors included.
func FuzzParseNodeLineCached(f *testing.F) {
	for line := range strings.SplitSeq(walkthroughNodes, "\n") {
		f.Add(line, "12", "1795628157643")
	}
	f.Add("07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host,shard-id=ab master - 0 1426238317239 4 connected 0-10", "-1", "+2")
	f.Fuzz(func(t *testing.T, line, ping, pong string) {
		cache := newParseCache()
		same := func(l string) {
			got, err := parseNodeLine(l, cache)
			want, wantErr := ParseNodeLine(l)
			if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
				t.Fatalf("%q: error %v through the cache, %v alone", l, err, wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: through the cache\n%+v\nalone\n%+v", l, got, want)
			}
		}
		same(line)
		same(line)
		if k, _, _, ok := pingFields(line); ok {
			same(k.head + ping + " " + pong + k.tail)
		}
	})
}
