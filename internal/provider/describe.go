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
	case *cluster.UnreadableError:
		return "cannot reset the cluster while some nodes cannot be read; bring them back, or remove them from shards first:\n" + e.Errs.Error()
	}
	return ""
}
