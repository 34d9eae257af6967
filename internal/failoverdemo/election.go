package failoverdemo

// Waiting until the replica may run for election again (Redis 7.0's election back-off).

import (
	"bufio"
	"os"
	"strings"
	"time"
)

// waitElectionReset waits, when the replica ran a failover election
// recently, until killing its master is safe. Redis 7.0 keeps a replica's
// election (its start time, votes and config epoch) after it won, even after
// it became a replica again. If its master fails within auth_timeout =
// max(2 x cluster-node-timeout, 2 s) of that election's start, the replica
// counts the old votes, "wins" at once with its old epoch, and the others
// ignore it; between auth_timeout and 2 x auth_timeout it starts no election
// at all. So wait until the master's failure will be detected (after
// cluster-node-timeout) later than 2 x auth_timeout after the replica's
// last election, as its log gives it.
func (s *Story) waitElectionReset(r Node, nt time.Duration) {
	s.R.Helper()
	last := lastElection(r.LogFile())
	if last.IsZero() {
		return
	}
	auth := max(2*nt, 2*time.Second)
	until := last.Add(2*auth - nt + 2*time.Second)
	if wait := time.Until(until); wait > 0 {
		s.say("%s ran a failover election %s ago. Redis 7.0 reuses a replica's election (votes and", r.Addr(), secs(time.Since(last)))
		s.say("config epoch) for %s: a failover now would \"win\" with a stale epoch the others ignore.", 2*auth)
		s.say("Waiting %s first.", secs(wait))
		time.Sleep(wait)
	}
}

// lastElection is when the log at path last shows a failover election
// started or won (zero if never, or no log).
func lastElection(path string) time.Time {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}
	}
	defer func() { _ = f.Close() }()
	var last time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if t, ok := parseElectionLine(sc.Text()); ok {
			last = t
		}
	}
	return last
}

// parseElectionLine reads the time of a log line such as
// "8406:S 14 Jun 2024 10:39:45.168 # Starting a failover election for epoch 7."
// (local time), if it is an election line.
func parseElectionLine(line string) (time.Time, bool) {
	if !strings.Contains(line, "Starting a failover election") && !strings.Contains(line, "Failover election won") {
		return time.Time{}, false
	}
	f := strings.Fields(line)
	if len(f) < 5 {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation("2 Jan 2006 15:04:05.000", strings.Join(f[1:5], " "), time.Local)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}
