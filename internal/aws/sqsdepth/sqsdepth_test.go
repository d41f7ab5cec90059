package sqsdepth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

type fakeQueue struct {
	attrs map[string]string
	err   error
	asked []string
}

func (f *fakeQueue) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	for _, n := range in.AttributeNames {
		f.asked = append(f.asked, string(n))
	}
	if aws.ToString(in.QueueUrl) != "https://sqs.local/q" {
		return nil, errors.New("wrong queue " + aws.ToString(in.QueueUrl))
	}
	return &sqs.GetQueueAttributesOutput{Attributes: f.attrs}, f.err
}

func TestRead(t *testing.T) {
	q := &fakeQueue{attrs: map[string]string{
		"ApproximateNumberOfMessages": "7", "ApproximateNumberOfMessagesNotVisible": "3", "ApproximateNumberOfMessagesDelayed": "2",
	}}
	d, err := Read(t.Context(), q, "https://sqs.local/q")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Depth{Visible: 7, InFlight: 3, Delayed: 2}); d != want {
		t.Fatalf("Read = %+v, want %+v", d, want)
	}
	if d.Held() != 10 {
		t.Fatalf("Held = %d, want 10 (visible and in flight, not delayed)", d.Held())
	}
	if len(q.asked) != 3 {
		t.Fatalf("asked for %v, want the three counts", q.asked)
	}
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs map[string]string
		err   error
		want  string
	}{
		{"call fails", nil, errors.New("boom"), "counting the messages in https://sqs.local/q: boom"},
		{"missing count", map[string]string{"ApproximateNumberOfMessages": "1", "ApproximateNumberOfMessagesDelayed": "0"}, nil,
			`ApproximateNumberOfMessagesNotVisible is "", want a count`},
		{"not a number", map[string]string{"ApproximateNumberOfMessages": "x", "ApproximateNumberOfMessagesNotVisible": "0", "ApproximateNumberOfMessagesDelayed": "0"}, nil,
			`ApproximateNumberOfMessages is "x", want a count`},
		{"negative", map[string]string{"ApproximateNumberOfMessages": "-1", "ApproximateNumberOfMessagesNotVisible": "0", "ApproximateNumberOfMessagesDelayed": "0"}, nil,
			`ApproximateNumberOfMessages is "-1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(t.Context(), &fakeQueue{attrs: tc.attrs, err: tc.err}, "https://sqs.local/q")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
