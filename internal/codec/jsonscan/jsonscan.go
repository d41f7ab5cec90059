// Package jsonscan holds the small, exact JSON scanning steps that the
// processor's hand-written decoders share: the Kinesis envelope scanner
// (package kinesisevent, over the invocation's []byte) and the activity
// fast path (package activity, over a string). Each step follows RFC 8259's
// grammar exactly, so a decoder built from them accepts only valid JSON; the
// decoders' differential fuzz tests check them against encoding/json.
//
// The functions are generic over string and []byte; each is instantiated
// once per type, so neither pays for the other.
package jsonscan

import "math/bits"

// Text is what the scanners read.
type Text interface{ ~string | ~[]byte }

// SkipSpace returns the index of the first non-whitespace byte at or after
// i (JSON whitespace only: space, tab, CR, LF).
func SkipSpace[T Text](s T, i int) int {
	for i < len(s) && s[i] <= ' ' && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
		i++
	}
	return i
}

// IsNull reports whether the literal null starts at s[i].
func IsNull[T Text](s T, i int) bool {
	return len(s)-i >= 4 && s[i] == 'n' && s[i+1] == 'u' && s[i+2] == 'l' && s[i+3] == 'l'
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// load64 reads eight bytes little-endian; the compiler makes it one load.
func load64[T Text](s T, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// IsASCII reports whether s has no byte >= 0x80.
func IsASCII[T Text](s T) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if load64(s, i)&highs != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// specialBytes flags, in the high bit of each byte, the bytes of x that end
// a plain run inside a JSON string: '"', '\\' and control characters. Only
// the lowest flag is exact (borrows may set flags above it), which is all
// String uses.
func specialBytes(x uint64) uint64 {
	quote := x ^ ones*'"'
	backslash := x ^ ones*'\\'
	return ((quote-ones)&^quote | (backslash-ones)&^backslash | (x-ones*0x20)&^x) & highs
}

// String reads the JSON string whose opening quote is s[i] and returns the
// index after its closing quote, or -1 if it is not a valid JSON string
// (raw control characters, a bad escape, no end). escaped reports an
// escape sequence (without one, s[i+1:end-1] is the value); nonASCII
// reports a byte >= 0x80, which the caller must check for valid UTF-8 if
// it keeps the value (encoding/json replaces invalid bytes).
func String[T Text](s T, i int) (end int, escaped, nonASCII bool) {
	var high uint64 // the OR of every byte read inside the string
	j := i + 1
	for {
		// Eight bytes at a time while eight remain, then byte by byte.
		if j+8 <= len(s) {
			x := load64(s, j)
			m := specialBytes(x)
			if m == 0 {
				high |= x
				j += 8
				continue
			}
			high |= x & (m&-m - 1) // the bytes before the special one
			j += bits.TrailingZeros64(m) / 8
		} else {
			for j < len(s) && s[j] != '"' && s[j] != '\\' && s[j] >= 0x20 {
				high |= uint64(s[j])
				j++
			}
			if j >= len(s) {
				return -1, false, false
			}
		}
		switch c := s[j]; {
		case c == '"':
			return j + 1, escaped, high&highs != 0
		case c < 0x20:
			return -1, false, false
		}
		// An escape: \" \\ \/ \b \f \n \r \t or \uXXXX.
		escaped = true
		if j+1 >= len(s) {
			return -1, false, false
		}
		switch s[j+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			j += 2
		case 'u':
			if j+6 > len(s) || !isHex(s[j+2]) || !isHex(s[j+3]) || !isHex(s[j+4]) || !isHex(s[j+5]) {
				return -1, false, false
			}
			j += 6
		default:
			return -1, false, false
		}
	}
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// Number returns the index after the JSON number at s[i], or i if none
// starts there: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func Number[T Text](s T, i int) int {
	j := i
	if j < len(s) && s[j] == '-' {
		j++
	}
	switch {
	case j < len(s) && s[j] == '0':
		j++
	case j < len(s) && '1' <= s[j] && s[j] <= '9':
		for j < len(s) && IsDigit(s[j]) {
			j++
		}
	default:
		return i
	}
	if j < len(s) && s[j] == '.' {
		j++
		if j >= len(s) || !IsDigit(s[j]) {
			return i
		}
		for j < len(s) && IsDigit(s[j]) {
			j++
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		j++
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j >= len(s) || !IsDigit(s[j]) {
			return i
		}
		for j < len(s) && IsDigit(s[j]) {
			j++
		}
	}
	return j
}

// IsDigit reports whether c is 0-9.
func IsDigit(c byte) bool { return '0' <= c && c <= '9' }

// MaxDepth bounds the nesting SkipValue follows. Deeper documents are
// reported as not handled, and the callers hand them to encoding/json,
// which has its own, larger limit.
const MaxDepth = 64

// SkipValue skips the JSON value starting at s[i] (not whitespace) and
// returns the index after it. ok is false for invalid JSON and for nesting
// deeper than MaxDepth.
func SkipValue[T Text](s T, i int) (end int, ok bool) { return skipValue(s, i, 1) }

func skipValue[T Text](s T, i, depth int) (int, bool) {
	if i >= len(s) {
		return i, false
	}
	switch c := s[i]; {
	case c == '"':
		end, _, _ := String(s, i)
		return end, end >= 0
	case c == '{' || c == '[':
		if depth > MaxDepth {
			return i, false
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = SkipSpace(s, i+1)
		if i < len(s) && s[i] == closing {
			return i + 1, true
		}
		for {
			if c == '{' {
				if i >= len(s) || s[i] != '"' {
					return i, false
				}
				end, _, _ := String(s, i)
				if end < 0 {
					return i, false
				}
				i = SkipSpace(s, end)
				if i >= len(s) || s[i] != ':' {
					return i, false
				}
				i = SkipSpace(s, i+1)
			}
			var ok bool
			if i, ok = skipValue(s, i, depth+1); !ok {
				return i, false
			}
			i = SkipSpace(s, i)
			if i >= len(s) {
				return i, false
			}
			if s[i] == closing {
				return i + 1, true
			}
			if s[i] != ',' {
				return i, false
			}
			i = SkipSpace(s, i+1)
		}
	case c == 't':
		return i + 4, len(s)-i >= 4 && s[i+1] == 'r' && s[i+2] == 'u' && s[i+3] == 'e'
	case c == 'f':
		return i + 5, len(s)-i >= 5 && s[i+1] == 'a' && s[i+2] == 'l' && s[i+3] == 's' && s[i+4] == 'e'
	case c == 'n':
		return i + 4, IsNull(s, i)
	default:
		end := Number(s, i)
		return end, end > i
	}
}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// Decimal converts a plain non-negative decimal (digits, optionally a point
// and more digits; no sign, no exponent) whose digits fit in 52 bits, like
// 19.99 or 1545084650.987. ok is false for anything else. For those inputs
// mantissa / 10^decimals is one correctly rounded IEEE division of two
// exact values, so the result is exactly strconv.ParseFloat's (whose own
// exact fast path is the same division) without its allocation.
func Decimal[T Text](s T) (f float64, ok bool) {
	var mantissa uint64
	digits, decimals := 0, -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case IsDigit(c):
			mantissa = mantissa*10 + uint64(c-'0')
			digits++
			if decimals >= 0 {
				decimals++
			}
		case c == '.' && decimals < 0 && digits > 0:
			decimals = 0
		default:
			return 0, false
		}
		if digits > 18 {
			return 0, false
		}
	}
	if digits == 0 || decimals == 0 || mantissa>>52 != 0 {
		return 0, false
	}
	if decimals < 0 {
		return float64(mantissa), true
	}
	if decimals >= len(pow10) {
		return 0, false
	}
	return float64(mantissa) / pow10[decimals], true
}

// EqualFoldASCII reports whether a and b are equal under ASCII case folding.
func EqualFoldASCII[T Text](a T, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := a[i], b[i]
		if x != y {
			if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
				return false
			}
		}
	}
	return true
}
