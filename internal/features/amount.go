package features

import (
	"errors"
	"fmt"
	"math/big"
	"math/bits"
	"strconv"
)

// Amount is an exact, non-negative sum of money in micro-units (millionths).
// Float sums depend on their order, so two runs over the same events could
// store different purchaseTotals; integers do not. Its range is what a
// DynamoDB number holds: at most 38 significant digits, so below 10^32
// units (10^38 micro-units).
type Amount struct{ hi, lo uint64 }

// microDecimals is the precision of an Amount: prices with up to 6 decimals
// are exact; more decimals are rounded half up to the micro-unit.
const microDecimals = 6

// maxAmount is 10^38, the first micro-unit count DynamoDB cannot hold.
var maxAmount = func() Amount {
	a := Amount{lo: 1}
	for range 38 {
		a, _ = a.mul64(10)
	}
	return a
}()

// ErrAmountRange is returned for amounts of 10^32 units or more.
var ErrAmountRange = errors.New("exceeds the 38 significant digits a DynamoDB number holds (at most 10^32 - 10^-6)")

func (a Amount) less(b Amount) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

// IsZero reports whether a is 0.
func (a Amount) IsZero() bool { return a.hi == 0 && a.lo == 0 }

func (a Amount) mul64(m uint64) (Amount, bool) {
	hiHi, hiLo := bits.Mul64(a.hi, m)
	loHi, loLo := bits.Mul64(a.lo, m)
	hi, carry := bits.Add64(hiLo, loHi, 0)
	return Amount{hi: hi, lo: loLo}, hiHi == 0 && carry == 0
}

// Add returns a+b, or ErrAmountRange when the sum leaves the range.
func (a Amount) Add(b Amount) (Amount, error) {
	lo, carry := bits.Add64(a.lo, b.lo, 0)
	hi, overflow := bits.Add64(a.hi, b.hi, carry)
	sum := Amount{hi: hi, lo: lo}
	if overflow != 0 || !sum.less(maxAmount) {
		return a, ErrAmountRange
	}
	return sum, nil
}

// PurchaseAmount is price × quantity, exactly. The price is taken at its
// shortest decimal form (what the client wrote, for up to 15 significant
// digits), so 19.99 is 19.99 and not the float64 just below it.
func PurchaseAmount(price float64, quantity int64) (Amount, error) {
	if price < 0 || quantity < 1 {
		return Amount{}, fmt.Errorf("price %g × quantity %d: both must be positive", price, quantity)
	}
	var buf [32]byte
	unit, err := parseDecimal(strconv.AppendFloat(buf[:0], price, 'f', -1, 64))
	if err != nil {
		return Amount{}, fmt.Errorf("price %g: %w", price, err)
	}
	total, ok := unit.mul64(uint64(quantity))
	if !ok || !total.less(maxAmount) {
		return Amount{}, fmt.Errorf("price %g × quantity %d %w", price, quantity, ErrAmountRange)
	}
	return total, nil
}

// parseDecimal reads digits with an optional point, rounding beyond six
// decimals half up.
func parseDecimal(text []byte) (Amount, error) {
	var a Amount
	decimals, point, extra := 0, false, 0
	roundUp := false
	for _, c := range text {
		if c == '.' && !point {
			point = true
			continue
		}
		if c < '0' || c > '9' {
			return Amount{}, fmt.Errorf("%q is not a plain decimal number", string(text))
		}
		if point && decimals == microDecimals {
			if extra == 0 { // the first dropped digit decides the rounding
				roundUp = c >= '5'
			}
			extra++
			continue
		}
		var ok bool
		if a, ok = a.mul64(10); ok {
			a, ok = a.addSmall(uint64(c - '0'))
		}
		if !ok {
			return Amount{}, ErrAmountRange
		}
		if point {
			decimals++
		}
	}
	for ; decimals < microDecimals; decimals++ {
		var ok bool
		if a, ok = a.mul64(10); !ok {
			return Amount{}, ErrAmountRange
		}
	}
	if roundUp {
		var ok bool
		if a, ok = a.addSmall(1); !ok {
			return Amount{}, ErrAmountRange
		}
	}
	if !a.less(maxAmount) {
		return Amount{}, ErrAmountRange
	}
	return a, nil
}

func (a Amount) addSmall(n uint64) (Amount, bool) {
	lo, carry := bits.Add64(a.lo, n, 0)
	hi, overflow := bits.Add64(a.hi, 0, carry)
	return Amount{hi: hi, lo: lo}, overflow == 0
}

// String is the amount as a decimal without trailing zeros: "0", "19.99",
// "1234567.000001". It is what DynamoDB stores in the N attribute.
func (a Amount) String() string {
	// Split into 19-digit chunks, least significant first.
	var digits []byte
	for a.hi != 0 || a.lo != 0 {
		var rem uint64
		a.hi, rem = bits.Div64(0, a.hi, 1e19)
		a.lo, rem = bits.Div64(rem, a.lo, 1e19)
		chunk := strconv.AppendUint(nil, rem, 10)
		if a.hi != 0 || a.lo != 0 {
			for len(chunk) < 19 {
				chunk = append([]byte{'0'}, chunk...)
			}
		}
		digits = append(chunk, digits...)
	}
	for len(digits) <= microDecimals {
		digits = append([]byte{'0'}, digits...)
	}
	whole, frac := digits[:len(digits)-microDecimals], digits[len(digits)-microDecimals:]
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if len(frac) == 0 {
		return string(whole)
	}
	return string(whole) + "." + string(frac)
}

// ParseAmount reads an amount back from its decimal form. It accepts any
// form DynamoDB may return a number in (exponents included), as long as
// the value is a non-negative whole number of micro-units in range.
func ParseAmount(s string) (Amount, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok || r.Sign() < 0 {
		return Amount{}, fmt.Errorf("%q is not a non-negative decimal number", s)
	}
	r.Mul(r, big.NewRat(1e6, 1))
	if !r.IsInt() {
		return Amount{}, fmt.Errorf("%q has more than %d decimals", s, microDecimals)
	}
	n := r.Num()
	if n.BitLen() > 128 {
		return Amount{}, fmt.Errorf("%q %w", s, ErrAmountRange)
	}
	var lo, hi big.Int
	lo.And(n, new(big.Int).SetUint64(^uint64(0)))
	hi.Rsh(n, 64)
	a := Amount{hi: hi.Uint64(), lo: lo.Uint64()}
	if !a.less(maxAmount) {
		return Amount{}, fmt.Errorf("%q %w", s, ErrAmountRange)
	}
	return a, nil
}
