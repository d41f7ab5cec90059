// Package emutest starts local AWS stand-ins for a test and stops them when
// the test ends.
package emutest

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/streamfn/streamfn/internal/emulators"
)

// Start starts one stand-in and stops it in t.Cleanup. Without Node.js the
// test is skipped with the reason; any other failure fails the test.
func Start(t testing.TB, kind emulators.Kind) *emulators.Server {
	t.Helper()
	s, err := emulators.Start(kind, emulators.Options{})
	if errors.Is(err, emulators.ErrNodeMissing) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatalf("starting %s stand-in: %v", kind, err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Config is an aws.Config for a stand-in: a fixed region, static dummy
// credentials and the server's endpoint. Tests use it instead of the
// environment so that parallel tests cannot see each other's endpoints.
func Config(s *emulators.Server) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(s.Endpoint),
	}
}
