// Package base64fast decodes standard, padded base64 (RFC 4648 section 4,
// encoding/base64.StdEncoding) faster than the standard library. It exists
// for the processor's hot path, where base64 is the largest single cost: a
// Kinesis record's data arrives base64-encoded inside the invocation JSON.
//
// The result is always exactly what encoding/base64.StdEncoding.Decode
// returns, errors included: the fast loop handles clean input (only
// alphabet characters, then padding) and hands anything else, such as line
// breaks or a corrupt character, to the standard library. A differential
// fuzz test holds the two together.
//
// Speed comes from a pair table: one lookup turns two characters into 12
// bits, so eight characters (six bytes) cost one 8-byte load, four lookups
// and one 8-byte store. The table has 64K entries (128 KiB), but text only
// touches the rows of alphabet characters, about 12 KiB, which stays in L1.
// On the lead's machine this is ~420 ns for an 850-byte event's 1136
// characters against 650-870 ns for encoding/base64.
package base64fast

import (
	"encoding/base64"
	"encoding/binary"
)

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// badPair marks a pair holding a non-alphabet character: a bit above the 12
// that a valid pair uses.
const badPair = 0xf000

// pairs maps two characters, read as a little-endian uint16 (first
// character in the low byte), to their 12 bits.
var pairs [1 << 16]uint16

// values maps one character to its 6 bits, or 0xff.
var values [256]byte

func init() {
	for i := range pairs {
		pairs[i] = badPair
	}
	for i := range values {
		values[i] = 0xff
	}
	for hi := range len(alphabet) {
		values[alphabet[hi]] = byte(hi)
		for lo := range len(alphabet) {
			pairs[int(alphabet[lo])<<8|int(alphabet[hi])] = uint16(hi<<6 | lo)
		}
	}
}

// DecodedLen is the most bytes decoding n characters can yield.
func DecodedLen(n int) int { return base64.StdEncoding.DecodedLen(n) }

// Decode decodes src into dst, which must hold DecodedLen(len(src)) bytes,
// and returns the number of bytes written. It behaves exactly like
// base64.StdEncoding.Decode, including its errors.
func Decode(dst, src []byte) (int, error) {
	if n, ok := decodeClean(dst, src); ok {
		return n, nil
	}
	return base64.StdEncoding.Decode(dst, src)
}

// AppendDecode appends the decoded src to dst, like
// base64.StdEncoding.AppendDecode. On error it returns dst with its length
// unchanged (its spare capacity may have been written).
func AppendDecode(dst, src []byte) ([]byte, error) {
	need := DecodedLen(len(src))
	if cap(dst)-len(dst) < need {
		grown := make([]byte, len(dst), len(dst)+need)
		copy(grown, dst)
		dst = grown
	}
	n, err := Decode(dst[len(dst):len(dst)+need], src)
	if err != nil {
		return dst, err
	}
	return dst[:len(dst)+n], nil
}

// decodeClean decodes input made only of alphabet characters with correct
// padding. ok is false for anything else; dst then holds garbage.
func decodeClean(dst, src []byte) (n int, ok bool) {
	if len(src)%4 != 0 || len(dst) < DecodedLen(len(src)) {
		return 0, false
	}
	if len(src) == 0 {
		return 0, true
	}
	// The last group may carry padding: it is decoded on its own below.
	body, tail := src[:len(src)-4], src[len(src)-4:]

	// Each step writes 8 bytes of which 6 count (the next step overwrites
	// the other 2), so it runs while 8 bytes of dst remain.
	si, di := 0, 0
	for si+8 <= len(body) && di+8 <= len(dst) {
		x := binary.LittleEndian.Uint64(body[si:])
		p0, p1, p2, p3 := pairs[uint16(x)], pairs[uint16(x>>16)], pairs[uint16(x>>32)], pairs[uint16(x>>48)]
		if (p0|p1|p2|p3)&badPair != 0 {
			return 0, false
		}
		binary.BigEndian.PutUint64(dst[di:], uint64(p0)<<52|uint64(p1)<<40|uint64(p2)<<28|uint64(p3)<<16)
		si += 8
		di += 6
	}
	for ; si < len(body); si += 4 {
		p0, p1 := pairs[uint16(body[si])|uint16(body[si+1])<<8], pairs[uint16(body[si+2])|uint16(body[si+3])<<8]
		if (p0|p1)&badPair != 0 {
			return 0, false
		}
		group := uint32(p0)<<12 | uint32(p1)
		dst[di], dst[di+1], dst[di+2] = byte(group>>16), byte(group>>8), byte(group)
		di += 3
	}

	// The final group: "xxxx", "xxx=" or "xx==". Non-zero bits under the
	// padding are dropped, as the standard library does outside strict mode.
	a, b, c, d := values[tail[0]], values[tail[1]], values[tail[2]], values[tail[3]]
	switch {
	case tail[3] != '=':
		if (a|b|c|d)&0xc0 != 0 {
			return 0, false
		}
		group := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		dst[di], dst[di+1], dst[di+2] = byte(group>>16), byte(group>>8), byte(group)
		return di + 3, true
	case tail[2] != '=':
		if (a|b|c)&0xc0 != 0 {
			return 0, false
		}
		group := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6
		dst[di], dst[di+1] = byte(group>>16), byte(group>>8)
		return di + 2, true
	default:
		if (a|b)&0xc0 != 0 {
			return 0, false
		}
		dst[di] = byte((uint32(a)<<18 | uint32(b)<<12) >> 16)
		return di + 1, true
	}
}
