package eventgen

import (
	"strconv"
	"strings"

	"github.com/streamfn/streamfn/internal/activity"
)

// The unknown fields. Per-user traits (device, locale, network) come from a
// hash of the userId, per-event ones (page, referrer, campaign) from a hash
// of the eventId, so a user keeps one device across events.

var userAgents = []string{
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.6422.165 Mobile Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
	"Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68",
}

type device struct {
	kind, os, osVersion, model string
	width, height, density     int
}

// devices[i] matches userAgents[i].
var devices = []device{
	{"mobile", "iOS", "17.5.1", "iPhone15,2", 393, 852, 3},
	{"desktop", "Windows", "10", "", 1920, 1080, 1},
	{"desktop", "macOS", "10.15.7", "MacBookPro18,3", 1512, 982, 2},
	{"mobile", "Android", "14", "Pixel 8", 412, 915, 3},
	{"desktop", "Linux", "", "", 2560, 1440, 1},
	{"mobile", "Android", "13", "SM-S911B", 360, 780, 3},
	{"tablet", "iPadOS", "17.4", "iPad13,18", 820, 1180, 2},
	{"desktop", "Windows", "10", "", 1366, 768, 1},
}

var locales = []struct{ locale, timezone string }{
	{"en-US", "America/New_York"}, {"en-US", "America/Los_Angeles"}, {"en-GB", "Europe/London"},
	{"de-DE", "Europe/Berlin"}, {"fr-FR", "Europe/Paris"}, {"es-ES", "Europe/Madrid"},
	{"ja-JP", "Asia/Tokyo"}, {"pt-BR", "America/Sao_Paulo"},
}

var referrers = []string{
	"https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/", "https://www.instagram.com/",
	"https://www.facebook.com/", "https://shop.example.com/", "https://t.co/", "",
}

var campaigns = []struct{ source, medium, name string }{
	{"newsletter", "email", "black-friday-2026"}, {"google", "cpc", "brand-search-q4"}, {"instagram", "social", "holiday-gift-guide"},
	{"partner-blog", "affiliate", "best-of-2026"}, {"direct", "none", ""},
}

var searchTerms = []string{
	"wireless headphones", "running shoes", "coffee grinder", "usb-c charger 65w", "kids lego set",
	"yoga mat", "air fryer", "4k monitor", "winter jacket", "mechanical keyboard",
}

func appendContext(dst []byte, ev *activity.Event) []byte {
	user := mix64(hashString(ev.UserID))
	per := rng{state: hashString(ev.EventID)}
	ua := user % uint64(len(userAgents))
	for i, a := range userAgents { // the device matches the event's own userAgent when it is one of ours
		if a == ev.UserAgent {
			ua = uint64(i)
		}
	}
	dev := devices[ua]
	loc := locales[(user>>8)%uint64(len(locales))]

	dst = append(dst, `,"context":{"page":{"url":"https://shop.example.com`...)
	switch {
	case ev.ProductID != "":
		dst = append(dst, "/products/"...)
		dst = append(dst, ev.ProductID...)
		dst = append(dst, "?ref="...)
		dst = append(dst, [...]string{"search", "home", "category", "recommendations"}[per.intn(4)]...)
		dst = append(dst, "&pos="...)
		dst = strconv.AppendInt(dst, int64(1+per.intn(24)), 10)
	case ev.Type == activity.Search:
		dst = append(dst, "/search?q="...)
		dst = append(dst, strings.ReplaceAll(searchTerms[per.intn(len(searchTerms))], " ", "+")...)
	default:
		dst = append(dst, '/')
	}
	dst = append(dst, `","referrer":`...)
	dst = activity.AppendString(dst, referrers[per.intn(len(referrers))])
	dst = append(dst, `},"locale":"`...)
	dst = append(dst, loc.locale...)
	dst = append(dst, `","timezone":"`...)
	dst = append(dst, loc.timezone...)
	dst = append(dst, `","device":{"type":"`...)
	dst = append(dst, dev.kind...)
	dst = append(dst, `","os":"`...)
	dst = append(dst, dev.os...)
	dst = append(dst, `","osVersion":"`...)
	dst = append(dst, dev.osVersion...)
	if dev.model != "" {
		dst = append(dst, `","model":"`...)
		dst = append(dst, dev.model...)
	}
	dst = append(dst, `","screen":{"width":`...)
	dst = strconv.AppendInt(dst, int64(dev.width), 10)
	dst = append(dst, `,"height":`...)
	dst = strconv.AppendInt(dst, int64(dev.height), 10)
	dst = append(dst, `,"density":`...)
	dst = strconv.AppendInt(dst, int64(dev.density), 10)
	dst = append(dst, `}},"network":{"ip":"203.0.113.`...)
	dst = strconv.AppendInt(dst, int64(user>>16%254+1), 10)
	dst = append(dst, `","connection":"`...)
	dst = append(dst, [...]string{"wifi", "4g", "5g", "ethernet"}[user>>24%4]...)
	dst = append(dst, `"}`...)
	c := campaigns[per.intn(len(campaigns))]
	if c.name != "" {
		dst = append(dst, `,"campaign":{"source":"`...)
		dst = append(dst, c.source...)
		dst = append(dst, `","medium":"`...)
		dst = append(dst, c.medium...)
		dst = append(dst, `","name":"`...)
		dst = append(dst, c.name...)
		dst = append(dst, `"}`...)
	}
	dst = append(dst, `},"app":{"name":"shop-web","version":"4.18.`...)
	dst = strconv.AppendInt(dst, int64(per.intn(4)), 10)
	dst = append(dst, `"},"schemaVersion":2,"consent":{"analytics":true,"ads":`...)
	dst = strconv.AppendBool(dst, user>>40%2 == 0)
	return append(dst, "}}"...)
}

// rng is SplitMix64: tiny, fast and fixed forever, so seeded output never
// changes with the Go version.
type rng struct{ state uint64 }

func (r *rng) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	return mix64(r.state)
}

// intn is uniform enough in [0, n) for test data (modulo bias < 2^-40 for
// the small n used here).
func (r *rng) intn(n int) int { return int(r.next() >> 1 % uint64(n)) }

// float is uniform in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// hashString is FNV-1a, mixed.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix64(h)
}
