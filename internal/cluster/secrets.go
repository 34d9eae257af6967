package cluster

import (
	"context"
	"net"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Secrets are the credentials a Pool knows (its password, and the
// passwords of the ACL users it sets). Each Pool owns one and installs it
// as a hook on every client it makes, so that no error a client returns
// shows one: Redis echoes the arguments of some commands it refuses
// ("ERR unknown command 'X', with args beginning with: ...", ACL SETUSER
// modifier errors). Safe for concurrent use.
type Secrets struct {
	mu  sync.RWMutex
	set map[string]bool
}

// NewSecrets returns an empty set.
func NewSecrets() *Secrets { return &Secrets{set: map[string]bool{}} }

// Add makes s redacted from now on; the empty string is ignored.
func (s *Secrets) Add(secret string) {
	if secret == "" {
		return
	}
	s.mu.Lock()
	s.set[secret] = true
	s.mu.Unlock()
}

// Redact replaces every secret in text with "***".
func (s *Secrets) Redact(text string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for secret := range s.set {
		text = strings.ReplaceAll(text, secret, "***")
	}
	return text
}

// redactErr returns err, or a redacted copy when its text holds a secret;
// the copy unwraps to err, so classification (errors.As) is unchanged.
func (s *Secrets) redactErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if r := s.Redact(msg); r != msg {
		return &redactedError{msg: r, err: err}
	}
	return err
}

// hook redacts the errors of every command and pipeline of a client.
func (s *Secrets) hook() redis.Hook { return secretsHook{s} }

type secretsHook struct{ s *Secrets }

func (h secretsHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		return c, h.s.redactErr(err)
	}
}

func (h secretsHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := h.s.redactErr(next(ctx, cmd))
		if err != nil {
			cmd.SetErr(err)
		}
		return err
	}
}

func (h secretsHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if e := cmd.Err(); e != nil {
				if r := h.s.redactErr(e); r != e {
					cmd.SetErr(r)
				}
			}
		}
		return h.s.redactErr(err)
	}
}

// redactedError has the text of an error with every secret redacted, and
// unwraps to the original (for classification with errors.As).
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
