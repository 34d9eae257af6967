package cluster

// crc16Table is CRC-16/XMODEM (polynomial 0x1021, initial value 0, no
// reflection, no final XOR), the CRC Redis' crc16.c implements.
var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

func crc16(s string) uint16 {
	var c uint16
	for i := 0; i < len(s); i++ {
		c = c<<8 ^ crc16Table[byte(c>>8)^s[i]]
	}
	return c
}

// KeySlot returns the hash slot (0-16383) of a key, as Redis' keyHashSlot:
// CRC16 of the key mod 16384, except that when the key holds a '{' followed
// later by a '}' with at least one byte between the first '{' and the first
// '}' after it, only those bytes are hashed ("{user1000}.following" and
// "{user1000}.followers" share a slot). Keys are bytes: a Go string is hashed
// as is, without any UTF-8 interpretation.
func KeySlot(key string) int {
	s := -1
	for i := 0; i < len(key); i++ {
		if key[i] == '{' {
			s = i
			break
		}
	}
	if s >= 0 {
		for e := s + 1; e < len(key); e++ {
			if key[e] == '}' {
				if e > s+1 {
					key = key[s+1 : e]
				}
				break
			}
		}
	}
	return int(crc16(key) & (SlotCount - 1))
}
