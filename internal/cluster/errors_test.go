package cluster

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestNodeErrRedacts: the wrapped error of a NodeError made by nodeErr has
// every registered secret redacted (ProblemsError prints it directly), and
// still classifies as the original.
func TestNodeErrRedacts(t *testing.T) {
	const secret = "Unit-Secret-Redact-42"
	registerSecret(secret)
	reply := fmt.Errorf("ERR unknown command 'X', with args beginning with: '%s' ", secret)
	err := nodeErr("127.0.0.1:7000", "X", reply)
	var ne *NodeError
	if !errors.As(err, &ne) {
		t.Fatal(err)
	}
	for _, s := range []string{ne.Error(), ne.Err.Error()} {
		if strings.Contains(s, secret) || !strings.Contains(s, "***") {
			t.Fatalf("not redacted: %q", s)
		}
	}
	if !errors.Is(err, reply) {
		t.Fatal("the redacted error no longer unwraps to the reply")
	}
	auth := nodeErr("127.0.0.1:7000", "", fmt.Errorf("WRONGPASS invalid username-password pair %s", secret))
	if !errors.As(auth, &ne) || ne.Kind != ErrAuth || strings.Contains(ne.Err.Error(), secret) {
		t.Fatalf("auth: %v (kind %q)", auth, ne.Kind)
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		err  error
		want ErrorKind
	}{
		{errors.New("WRONGPASS invalid username-password pair or user is disabled."), ErrAuth},
		{fmt.Errorf("failed to authenticate: %w", redis.ErrClosed), ErrOther},
		{errors.New("NOAUTH Authentication required."), ErrAuth},
		{errors.New("NOPERM this user has no permissions to run the 'cluster|meet' command"), ErrPermission},
		{&PermissionError{User: "u", Missing: []string{"cluster|meet"}}, ErrPermission},
		{&TLSError{Hint: "x", Err: io.EOF}, ErrTLS},
		{&connError{&TLSError{Hint: "x", Err: io.EOF}}, ErrTLS},
		{io.EOF, ErrUnreachable},
		{errors.New("ERR This instance has cluster support disabled"), ErrNotCluster},
	}
	for _, c := range cases {
		if got := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
