package cluster

import (
	"strings"
	"testing"
)

func TestCRC16(t *testing.T) {
	// The check value of CRC-16/XMODEM, also in Redis' crc16.c test.
	if got := crc16("123456789"); got != 0x31c3 {
		t.Errorf("crc16(123456789) = %#x, want 0x31c3", got)
	}
	if got := crc16(""); got != 0 {
		t.Errorf("crc16(\"\") = %#x, want 0", got)
	}
}

func TestKeySlot(t *testing.T) {
	tests := []struct {
		key  string
		want int
	}{
		// CLUSTER KEYSLOT on Redis 7.0.
		{"foo", 12182},
		{"bar", 5061},
		{"somekey", 11058},
		{"hello", 866},
		{"123456789", 12739},
		{"", 0},
		{"user1000", 3443},
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"foo{}{bar}", 8363},    // empty tag: the whole key
		{"{}", 15257},           // the whole key
		{"foo{{bar}}zap", 4015}, // tag is "{bar"
		{"foo{bar}{zap}", 5061}, // first tag only: "bar"
		{"{bar", 4015},          // no '}': the whole key, which is "{bar"
		{"bar}", 6624},          // no '{': the whole key
		{"}{bar}", 5061},        // a '}' before the '{' does not count
		{"a{b}c{d}e", KeySlot("b")},
		{"\x80", 4488},
		{"\xff\x00{\x80}", 4488},
	}
	for _, tt := range tests {
		if got := KeySlot(tt.key); got != tt.want {
			t.Errorf("KeySlot(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
	if KeySlot("{user1000}.following") != KeySlot("{user1000}.followers") {
		t.Error("hash tags do not share a slot")
	}
}

// crc16Bitwise is CRC-16/XMODEM one bit at a time, as a reference.
func crc16Bitwise(s string) uint16 {
	var c uint16
	for i := 0; i < len(s); i++ {
		c ^= uint16(s[i]) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
	}
	return c
}

// keySlotReference is Redis' keyHashSlot transcribed loop for loop.
func keySlotReference(key string) int {
	keylen := len(key)
	s := 0
	for s = 0; s < keylen; s++ {
		if key[s] == '{' {
			break
		}
	}
	if s == keylen {
		return int(crc16Bitwise(key) & 0x3fff)
	}
	e := 0
	for e = s + 1; e < keylen; e++ {
		if key[e] == '}' {
			break
		}
	}
	if e == keylen || e == s+1 {
		return int(crc16Bitwise(key) & 0x3fff)
	}
	return int(crc16Bitwise(key[s+1:e]) & 0x3fff)
}

func FuzzKeySlot(f *testing.F) {
	for _, s := range []string{"", "foo", "{user1000}.following", "foo{}{bar}", "{}", "foo{{bar}}zap", "}{", "{a}{b}", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		got := KeySlot(key)
		if got < 0 || got >= SlotCount {
			t.Fatalf("KeySlot(%q) = %d", key, got)
		}
		if want := keySlotReference(key); got != want {
			t.Fatalf("KeySlot(%q) = %d, reference %d", key, got, want)
		}
		// A non-empty tag without '}' decides the slot of any key that
		// carries it first.
		tag := strings.ReplaceAll(key, "}", "")
		if tag != "" {
			prefix := strings.ReplaceAll(key, "{", "")
			if a, b := KeySlot(prefix+"{"+tag+"}"+key), KeySlot(tag); a != b {
				t.Fatalf("KeySlot(%q) = %d, KeySlot(%q) = %d", prefix+"{"+tag+"}"+key, a, tag, b)
			}
		}
	})
}
