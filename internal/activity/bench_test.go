package activity

import "testing"

// A generated event (internal/dev/eventgen's shape): the schema's fields and ~500
// bytes of unknown ones.
const benchEvent = `{"eventId":"01a217ba-120a-7574-9450-582c6b65b406","userId":"user-00139","type":"view","productId":"sku-002808","category":"movies","price":51.78,"sessionId":"01a217ba-1207-721c-8094-ab49d50f11f9","ts":"2026-11-26T12:00:00.010Z","userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15","context":{"page":{"url":"https://shop.example.com/products/sku-002808?ref=home&pos=3","referrer":"https://t.co/"},"locale":"fr-FR","timezone":"Europe/Paris","device":{"type":"desktop","os":"macOS","osVersion":"10.15.7","model":"MacBookPro18,3","screen":{"width":1512,"height":982,"density":2}},"network":{"ip":"203.0.113.197","connection":"wifi"},"campaign":{"source":"partner-blog","medium":"affiliate","name":"best-of-2026"}},"app":{"name":"shop-web","version":"4.18.0"},"schemaVersion":2,"consent":{"analytics":true,"ads":true}}`

var sinkEvent Event

func BenchmarkParse(b *testing.B) {
	data := []byte(benchEvent)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		sinkEvent, _ = ParseValid(data)
	}
}

func BenchmarkParseString(b *testing.B) {
	b.SetBytes(int64(len(benchEvent)))
	b.ReportAllocs()
	for b.Loop() {
		sinkEvent, _ = ParseValidString(benchEvent)
	}
}
