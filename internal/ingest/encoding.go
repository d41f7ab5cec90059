package ingest

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// AcceptedEncodings are the Content-Encoding values ingest decodes
// (RFC 9110, section 8.4.1). Brotli (br) is not among them: no Brotli
// decoder is in the module graph, and adding one for a rarely used request
// encoding is not worth a new dependency; such requests get 415 naming
// these.
var AcceptedEncodings = []string{"gzip", "deflate", "zstd", "identity"}

// decodeContent undoes the Content-Encoding header's codings, the last
// applied first, and returns the body as the client wrote it. The decoded
// body is bounded by MaxBodyBytes, so a small compressed body cannot
// expand into gigabytes (a decompression bomb): the reader stops one byte
// past the limit.
func decodeContent(header, body string) (string, *Problem) {
	if header == "" {
		return body, nil
	}
	codings := strings.Split(header, ",")
	for k := len(codings) - 1; k >= 0; k-- {
		coding := strings.ToLower(strings.TrimSpace(codings[k]))
		var open func(io.Reader) (io.ReadCloser, error)
		switch coding {
		case "", "identity":
			continue
		case "gzip", "x-gzip":
			open = func(r io.Reader) (io.ReadCloser, error) { return gzip.NewReader(r) }
		case "deflate":
			open = openDeflate
		case "zstd":
			open = func(r io.Reader) (io.ReadCloser, error) {
				d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(2*MaxBodyBytes))
				if err != nil {
					return nil, err
				}
				return d.IOReadCloser(), nil
			}
		default:
			return "", &Problem{
				Status: http.StatusUnsupportedMediaType,
				Message: fmt.Sprintf("Content-Encoding %q is not supported: send the body uncompressed or compressed with one of %s",
					coding, strings.Join(AcceptedEncodings[:3], ", ")),
				AllowedEncodings: AcceptedEncodings,
			}
		}
		decoded, problem := readDecoded(coding, body, open)
		if problem != nil {
			return "", problem
		}
		body = decoded
	}
	return body, nil
}

func readDecoded(coding, body string, open func(io.Reader) (io.ReadCloser, error)) (string, *Problem) {
	notValid := func(err error) *Problem {
		return badRequest("body is marked Content-Encoding: %s but is not valid %s data (%v): "+
			"compress the whole body with %s, or drop the header and send it uncompressed", coding, coding, err, coding)
	}
	r, err := open(strings.NewReader(body))
	if err != nil {
		return "", notValid(err)
	}
	defer r.Close()
	var out bytes.Buffer
	out.Grow(min(4*len(body), MaxBodyBytes+1))
	n, err := out.ReadFrom(io.LimitReader(r, MaxBodyBytes+1))
	if err != nil {
		if n > MaxBodyBytes {
			return "", tooLarge(MaxBodyBytes, coding)
		}
		return "", notValid(err)
	}
	if n > MaxBodyBytes {
		return "", tooLarge(MaxBodyBytes, coding)
	}
	return out.String(), nil
}

// openDeflate reads HTTP's deflate coding, which RFC 9110 (section
// 8.4.1.2) defines as the zlib format (RFC 1950). Some clients send bare
// deflate data (RFC 1951) under that name, so a body without a zlib
// header is read as that.
func openDeflate(r io.Reader) (io.ReadCloser, error) {
	var head [2]byte
	buffered := &bytes.Buffer{}
	if _, err := io.ReadFull(io.TeeReader(r, buffered), head[:]); err != nil {
		return nil, err
	}
	all := io.MultiReader(buffered, r)
	// A zlib header: compression method 8 and a checksum of the two bytes.
	if head[0]&0x0f == 8 && (uint16(head[0])<<8|uint16(head[1]))%31 == 0 {
		return zlib.NewReader(all)
	}
	return flate.NewReader(all), nil
}
