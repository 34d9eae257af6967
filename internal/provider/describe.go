package provider

import (
	"fmt"
	"strings"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

// describe is err's text for a diagnostic: internal/cluster writes its
// texts without the provider's attribute names, and every error of it in
// err's chain that has an attribute-named text here (attributeText) reads
// that way, wherever it sits in the message.
func describe(err error) string {
	text := err.Error()
	done := map[string]bool{}
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if t := attributeText(e); t != "" && !done[e.Error()] {
			done[e.Error()] = true
			text = strings.ReplaceAll(text, e.Error(), t)
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return text
}

// attributeText is the text of e, an error of internal/cluster, naming the
// attributes that remedy it; "" when e has no such text.
func attributeText(e error) string {
	switch e := e.(type) {
	case *cluster.KeysHeldError:
		return e.Error() + ". To keep the keys, keep a master that stays and declare these slots on it; " +
			"to discard them, set force_destroy = true on its resource, apply, then destroy"
	case *cluster.ForeignSlotsError:
		return fmt.Sprintf("slots %s are served by node %s, which no shard declares: declare it in shards, or move its slots away first", e.Slots, e.ID)
	case *cluster.ProblemsError:
		var b strings.Builder
		for i, p := range e.Problems {
			if i > 0 {
				b.WriteString("\n")
			}
			fix := p.Remedy
			if r := settingRemedy(p.Kind); r != "" {
				fix = strings.ToUpper(r[:1]) + r[1:] + "."
			}
			fmt.Fprintf(&b, "- %s: %s. %s", p.Addr, p.What, fix)
		}
		return b.String()
	case *cluster.SettingError:
		if e.Problem == cluster.SettingCredential {
			where := e.Where
			if where == "" {
				where = "the provider's password and ACL users"
			}
			return fmt.Sprintf("setting %q holds a credential: config values are stored in the Terraform state in plain text; set it through %s instead", e.Setting, where)
		}
		return e.Text("config")
	case *cluster.RuleError:
		why := e.Why
		switch e.Password {
		case cluster.RulePassword:
			why = "sets or removes a password in clear text (it starts with '>' or '<'); the value is not shown. " +
				"Rules are stored in state: set the password with password_wo (and password_wo_version), or its SHA-256 with password_hashes"
		case cluster.RuleHash:
			why = "sets or removes a password hash (it starts with '#' or '!'); the value is not shown. Put SHA-256 hashes in password_hashes instead"
		case cluster.RuleNopass:
			why = "lets the user in without a password, and a password is set too (password_wo or password_hashes): keep one of them"
		}
		return e.Text(fmt.Sprintf("rules[%d]", e.Index), why)
	case *cluster.PartitionError:
		return e.Text("failback is set")
	case *cluster.TLSError:
		hint := map[cluster.TLSCause]string{
			cluster.TLSNeeded:            "the node speaks TLS on this port: set the provider's tls block",
			cluster.TLSNotServed:         "the node answers plain RESP on this port, not TLS: the provider's tls block is set, but the node serves no tls-port here",
			cluster.TLSCertMissing:       "TLS handshake failed: the node asks for a client certificate and the provider's tls block has none (set tls.cert and tls.key)",
			cluster.TLSCertMissingClosed: "the node closed the connection after the TLS handshake: it requires a client certificate (tls-auth-clients) and the provider's tls block has none (set tls.cert and tls.key)",
			cluster.TLSCertRejected:      "the node closed the connection after the TLS handshake: most likely it rejected the client certificate (check that its tls-ca-cert-file trusts tls.cert)",
		}[e.Cause]
		if hint == "" {
			return ""
		}
		return strings.Replace(e.Error(), e.Hint, hint, 1)
	case *cluster.UnreadableError:
		return "cannot reset the cluster while some nodes cannot be read; bring them back, or remove them from shards first:\n" + e.Errs.Error()
	}
	return ""
}

// remedy is what the user can do about a node's failure, in the
// provider's settings where one remedies it.
func remedy(ne *cluster.NodeError) string {
	if r := settingRemedy(ne.Kind); r != "" {
		return r
	}
	return ne.Remedy()
}

// settingRemedy words the remedy of a kind of failure in the provider's
// settings; "" for the kinds no setting remedies (internal/cluster's
// NodeError.Remedy says what to do then).
func settingRemedy(kind cluster.ErrorKind) string {
	switch kind {
	case cluster.ErrUnreachable:
		return "check that redis-server runs at this address and that it is reachable from where Terraform runs (dial_timeout bounds each attempt)"
	case cluster.ErrAuth:
		return "check the provider's username and password (or REDIS_USERNAME / REDIS_PASSWORD) against the node's requirepass or ACL user"
	case cluster.ErrTLS:
		return "check the provider's tls settings (ca_cert, cert, key, server_name) against the node's tls-port, tls-cert-file, tls-ca-cert-file and tls-auth-clients"
	case cluster.ErrPermission:
		return "grant the provider's ACL user the commands it needs (see the ACL section of the provider documentation) with ACL SETUSER, or use a user that has them"
	}
	return ""
}
