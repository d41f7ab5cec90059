package base64fast

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"testing"
)

func TestDecodeMatchesStandardLibrary(t *testing.T) {
	cases := []string{
		"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy",
		"Zm9vYmFyYmF6cXV4", "Zm9v\nYmFy", "Zm9v\r\nYmFy\n", // line breaks: the standard library skips them
		"Zm9", "Zm9vY", "Zm=v", "Z===", "====", "Zm9v====", "Zg=", "Zh==", // bad length or padding; non-zero pad bits
		"Zm9v!mFy", "Zm9vYmF\x00", "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV\xff", "-_-_", // non-alphabet characters
	}
	for _, c := range cases {
		checkAgainstStandard(t, []byte(c))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 200 {
		raw := make([]byte, n)
		for i := range raw {
			raw[i] = byte(rng.Uint32())
		}
		checkAgainstStandard(t, []byte(base64.StdEncoding.EncodeToString(raw)))
	}
}

func TestAppendDecode(t *testing.T) {
	got, err := AppendDecode([]byte("prefix:"), []byte("Zm9vYmFy"))
	if err != nil || string(got) != "prefix:foobar" {
		t.Fatalf("AppendDecode = %q, %v; want %q", got, err, "prefix:foobar")
	}
	got, err = AppendDecode([]byte("prefix:"), []byte("Zm9v!"))
	if err == nil || string(got) != "prefix:" {
		t.Fatalf("AppendDecode of bad input = %q, %v; want the prefix back and an error", got, err)
	}
}

func checkAgainstStandard(t *testing.T, src []byte) {
	t.Helper()
	want := make([]byte, base64.StdEncoding.DecodedLen(len(src)))
	wantN, wantErr := base64.StdEncoding.Decode(want, src)
	got := make([]byte, DecodedLen(len(src)))
	gotN, gotErr := Decode(got, src)
	if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
		t.Fatalf("Decode(%q) error = %v, standard library: %v", src, gotErr, wantErr)
	}
	if wantErr == nil && (gotN != wantN || !bytes.Equal(got[:gotN], want[:wantN])) {
		t.Fatalf("Decode(%q) = %q, standard library: %q", src, got[:gotN], want[:wantN])
	}
}

// FuzzDecode is the differential test: on every input Decode and
// encoding/base64 agree on the bytes and the error.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("Zm9vYmFy"))
	f.Add([]byte("Zm9vYg=="))
	f.Add([]byte("Zm9v\nYmE="))
	f.Add([]byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("streamfn"), 40))))
	f.Fuzz(func(t *testing.T, src []byte) {
		checkAgainstStandard(t, src)
		// Valid encodings of arbitrary bytes, the common case, too.
		checkAgainstStandard(t, []byte(base64.StdEncoding.EncodeToString(src)))
	})
}

var sink int

func benchmarkInput() []byte {
	raw := make([]byte, 852) // an ~850-byte event: 1136 base64 characters
	for i := range raw {
		raw[i] = byte(i*7 + 3)
	}
	return []byte(base64.StdEncoding.EncodeToString(raw))
}

func BenchmarkDecode(b *testing.B) {
	src := benchmarkInput()
	dst := make([]byte, DecodedLen(len(src)))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		n, _ := Decode(dst, src)
		sink += n
	}
}

func BenchmarkStandardLibrary(b *testing.B) {
	src := benchmarkInput()
	dst := make([]byte, DecodedLen(len(src)))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		n, _ := base64.StdEncoding.Decode(dst, src)
		sink += n
	}
}
