package features

import (
	"errors"
	"math"
	"testing"
)

func TestPurchaseAmount(t *testing.T) {
	for _, c := range []struct {
		price    float64
		quantity int64
		want     string
	}{
		{19.99, 1, "19.99"},
		{19.99, 3, "59.97"},
		{0.1, 3, "0.3"}, // 0.30000000000000004 as floats
		{0, 5, "0"},
		{1234567.123456, 2, "2469134.246912"},
		{0.0000005, 1, "0.000001"}, // beyond six decimals: rounded half up
		{0.0000004, 1, "0"},
		{1e20, 1, "100000000000000000000"},
		{9999999999999.99, 1000, "9999999999999990"},
	} {
		a, err := PurchaseAmount(c.price, c.quantity)
		if err != nil {
			t.Errorf("PurchaseAmount(%v, %d): %v", c.price, c.quantity, err)
			continue
		}
		if got := a.String(); got != c.want {
			t.Errorf("PurchaseAmount(%v, %d) = %s, want %s", c.price, c.quantity, got, c.want)
		}
		back, err := ParseAmount(a.String())
		if err != nil || back != a {
			t.Errorf("ParseAmount(%s) = %v, %v; want it back", a, back, err)
		}
	}
	for _, c := range []struct {
		price    float64
		quantity int64
	}{{1e32, 1}, {1e300, 1}, {math.MaxFloat64, 1}, {1e19, math.MaxInt64}} {
		if _, err := PurchaseAmount(c.price, c.quantity); !errors.Is(err, ErrAmountRange) {
			t.Errorf("PurchaseAmount(%v, %d) error = %v, want ErrAmountRange", c.price, c.quantity, err)
		}
	}
}

func TestAmountSumIsExactInAnyOrder(t *testing.T) {
	prices := []float64{0.1, 0.2, 0.3, 19.99, 5.01, 1e9 + 0.01, 0.07}
	var forward, backward Amount
	var floatForward, floatBackward float64
	for i := range prices {
		a, _ := PurchaseAmount(prices[i], 1)
		b, _ := PurchaseAmount(prices[len(prices)-1-i], 1)
		forward, _ = forward.Add(a)
		backward, _ = backward.Add(b)
		floatForward += prices[i]
		floatBackward += prices[len(prices)-1-i]
	}
	if forward != backward || forward.String() != "1000000025.68" {
		t.Fatalf("sums %s and %s, want 1000000025.68 both", forward, backward)
	}
	if floatForward == floatBackward {
		t.Log("(the float sums happen to agree on this machine)")
	}
}

func TestParseAmount(t *testing.T) {
	for _, c := range []struct{ in, want string }{{"0", "0"}, {"12.5", "12.5"}, {"1E+2", "100"}, {"0.000001", "0.000001"}} {
		a, err := ParseAmount(c.in)
		if err != nil || a.String() != c.want {
			t.Errorf("ParseAmount(%q) = %v, %v; want %s", c.in, a, err, c.want)
		}
	}
	for _, bad := range []string{"", "-1", "abc", "0.0000001", "1e40"} {
		if _, err := ParseAmount(bad); err == nil {
			t.Errorf("ParseAmount(%q) accepted it", bad)
		}
	}
}
