package pipeline

import (
	"slices"
	"testing"
)

func TestViaService(t *testing.T) {
	tests := []struct {
		streamARN string
		want      []string
	}{
		{"arn:aws:kinesis:eu-west-1:123456789012:stream/streamfn-dev", []string{"kinesis.eu-west-1.amazonaws.com", "s3.eu-west-1.amazonaws.com"}},
		{"arn:aws-cn:kinesis:cn-north-1:123456789012:stream/streamfn-dev", []string{"kinesis.cn-north-1.amazonaws.com.cn", "s3.cn-north-1.amazonaws.com.cn"}},
		{"arn:aws:kinesis:us-east-1:123456789012:stream/a:b", []string{"kinesis.us-east-1.amazonaws.com", "s3.us-east-1.amazonaws.com"}}, // ':' in the resource
	}
	for _, tt := range tests {
		got, _ := viaService(tt.streamARN, "kinesis", "s3")["StringEquals"]["kms:ViaService"].([]string)
		if !slices.Equal(got, tt.want) {
			t.Errorf("viaService(%q) = %q, want %q", tt.streamARN, got, tt.want)
		}
	}
}
