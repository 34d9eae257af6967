package cluster

import (
	"errors"
	"strings"
	"testing"
)

// TestSecrets: every added secret is redacted, the empty string is not a
// secret, and a redacted error still unwraps to (and classifies as) the
// original; one pool's secrets are not another's.
func TestSecrets(t *testing.T) {
	s := NewSecrets()
	s.Add("")
	s.Add("Unit-Secret-42")
	s.Add("pw2")
	if got := s.Redact("a Unit-Secret-42 b pw2 c"); got != "a *** b *** c" {
		t.Fatalf("Redact = %q", got)
	}
	if got := s.Redact("nothing here"); got != "nothing here" {
		t.Fatalf("Redact = %q", got)
	}
	orig := reply("WRONGPASS invalid username-password pair Unit-Secret-42")
	err := s.redactErr(orig)
	if strings.Contains(err.Error(), "Unit-Secret-42") || !errors.Is(err, orig) || classify(err) != ErrAuth {
		t.Fatalf("redactErr = %v (kind %v)", err, classify(err))
	}
	if plain := reply("ERR x"); s.redactErr(plain) != plain {
		t.Fatal("an error without a secret was wrapped")
	}
	if s.redactErr(nil) != nil {
		t.Fatal("redactErr(nil) != nil")
	}
	if NewSecrets().Redact("Unit-Secret-42") != "Unit-Secret-42" {
		t.Fatal("a new set redacts another set's secret")
	}
}
