// Package streamtest is an in-memory Kinesis PutRecords stand-in for tests:
// it takes records like a stream, or fails whole calls and single entries
// the way Kinesis does when a test asks it to, and remembers what it took.
package streamtest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Stream implements streamwriter.API. Set the hooks before the first call.
type Stream struct {
	// Name, when set, is the only stream name the fake answers to.
	Name string
	// FailCall fails call number call (from 1) as a whole when it returns
	// an error; no entry of that call is taken.
	FailCall func(call int) error
	// FailEntry returns an error code for an entry, or "" to take it. sent
	// counts how often the same data has been sent, from 1.
	FailEntry func(call, sent int, data []byte) string
	// ShortAnswer drops the last result of a call, which Kinesis never does.
	ShortAnswer func(call int) bool

	mu      sync.Mutex
	calls   [][]string
	sent    map[string]int
	taken   map[string]int
	written []Record
}

// Record is one record the stream took.
type Record struct {
	PartitionKey string
	Data         []byte
}

// PutRecords implements streamwriter.API.
func (s *Stream) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sent == nil {
		s.sent, s.taken = map[string]int{}, map[string]int{}
	}
	call := len(s.calls) + 1
	datas := make([]string, len(in.Records))
	for i, e := range in.Records {
		datas[i] = string(e.Data)
	}
	s.calls = append(s.calls, datas)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.Name != "" && aws.ToString(in.StreamName) != s.Name {
		return nil, &types.ResourceNotFoundException{Message: aws.String(fmt.Sprintf("Stream %s not found", aws.ToString(in.StreamName)))}
	}
	if len(in.Records) == 0 || len(in.Records) > 500 {
		return nil, &types.InvalidArgumentException{Message: aws.String(fmt.Sprintf("%d records in one call", len(in.Records)))}
	}
	if s.FailCall != nil {
		if err := s.FailCall(call); err != nil {
			return nil, err
		}
	}
	out := &kinesis.PutRecordsOutput{FailedRecordCount: aws.Int32(0)}
	for i, e := range in.Records {
		if aws.ToString(e.PartitionKey) == "" {
			return nil, &types.InvalidArgumentException{Message: aws.String(fmt.Sprintf("record %d has no partition key", i))}
		}
		s.sent[string(e.Data)]++
		code := ""
		if s.FailEntry != nil {
			code = s.FailEntry(call, s.sent[string(e.Data)], e.Data)
		}
		if code != "" {
			out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("injected by streamtest")})
			*out.FailedRecordCount++
			continue
		}
		s.taken[string(e.Data)]++
		s.written = append(s.written, Record{PartitionKey: aws.ToString(e.PartitionKey), Data: bytes.Clone(e.Data)})
		out.Records = append(out.Records, types.PutRecordsResultEntry{
			SequenceNumber: aws.String(fmt.Sprintf("%056d", len(s.written))),
			ShardId:        aws.String("shardId-000000000000"),
		})
	}
	if s.ShortAnswer != nil && s.ShortAnswer(call) {
		out.Records = out.Records[:len(out.Records)-1]
	}
	return out, nil
}

// Calls returns the data of each call's entries, in call order.
func (s *Stream) Calls() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Written returns the records the stream took, in order.
func (s *Stream) Written() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.written)
}

// TimesWritten counts the taken records holding exactly data.
func (s *Stream) TimesWritten(data []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.taken[string(data)]
}
