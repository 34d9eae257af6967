//go:build !linux

package redistest

import "testing"

// Net is a private test network of network namespaces; Linux only.
type Net struct{}

// NetUnavailable returns why namespace tests cannot run here.
func NetUnavailable() string { return "network namespace tests need Linux (ip netns)" }

// StartNet skips the test: network namespaces are Linux only.
func StartNet(t testing.TB, _ int, _ Options) (*Net, []*Node) {
	t.Helper()
	t.Skip(NetUnavailable())
	return nil, nil
}

// HostIP is empty off Linux.
func (nt *Net) HostIP() string { return "" }

// Cut is a no-op off Linux (StartNet skipped the test).
func (nt *Net) Cut(testing.TB, *Node, ...*Node) {}

// Heal is a no-op off Linux (StartNet skipped the test).
func (nt *Net) Heal(testing.TB, *Node) {}
