package cluster

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/redis/go-redis/v9"
)

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
		{reply("ERR This instance has cluster support disabled"), ErrNotCluster},
		{reply("ERR invalid password"), ErrAuth},
		{reply("ERR Target instance replied with error: WRONGPASS invalid username-password pair or user is disabled."), ErrAuth},
		{reply("ERR Target instance replied with error: NOPERM User u has no permissions to run the 'restore-asking' command"), ErrPermission},
		{errors.New("x509: certificate signed by unknown authority"), ErrTLS},
		{errors.New("dial tcp: lookup nohost: no such host"), ErrUnreachable},
		{reply("ERR Slot 1 is already busy"), ErrOther},
	}
	for _, c := range cases {
		if got := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
