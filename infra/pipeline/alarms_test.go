package pipeline

import "testing"

func TestPartitionOf(t *testing.T) {
	tests := []struct{ arn, want string }{
		{"arn:aws:sts::123456789012:assumed-role/streamfn-plan/offline", "aws"},
		{"arn:aws-cn:iam::123456789012:user/ops/alice", "aws-cn"},
		{"arn:aws-us-gov:sts::123456789012:assumed-role/deploy/ci:run", "aws-us-gov"}, // ':' in the resource
		{"arn::sts::123456789012:assumed-role/x", "aws"},
		{"123456789012", "aws"},
		{"", "aws"},
	}
	for _, tt := range tests {
		if got := partitionOf(tt.arn); got != tt.want {
			t.Errorf("partitionOf(%q) = %q, want %q", tt.arn, got, tt.want)
		}
	}
}
