package kinesisevent

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamfn/streamfn/internal/aws/lambdaquota"
)

// Source is what every record of one shard's invocations carries besides
// the record itself: the shard, the stream, the region and the function's
// execution role (invokeIdentityArn).
type Source struct {
	ShardID           string
	StreamARN         string
	Region            string
	InvokeIdentityARN string
}

// Element renders one element of a Kinesis event's Records array
// exactly as Lambda sends it (aws-lambda-go's events.KinesisEventRecord):
// data in base64, approximateArrivalTimestamp in epoch seconds with
// millisecond precision, eventID "shardId-...:sequenceNumber".
func (s Source) Element(sequenceNumber, partitionKey string, data []byte, arrival time.Time) []byte {
	b := make([]byte, 0, 420+base64.StdEncoding.EncodedLen(len(data))+len(partitionKey)+2*len(sequenceNumber))
	b = append(b, `{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":`...)
	b = appendJSONString(b, partitionKey)
	b = append(b, `,"sequenceNumber":"`...)
	b = append(b, sequenceNumber...)
	b = append(b, `","data":"`...)
	b = base64.StdEncoding.AppendEncode(b, data)
	b = append(b, `","approximateArrivalTimestamp":`...)
	b = strconv.AppendFloat(b, float64(arrival.UnixMilli())/1000, 'f', 3, 64)
	b = append(b, `},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":`...)
	b = appendJSONString(b, s.ShardID+":"+sequenceNumber)
	b = append(b, `,"eventName":"aws:kinesis:record","invokeIdentityArn":`...)
	b = appendJSONString(b, s.InvokeIdentityARN)
	b = append(b, `,"awsRegion":`...)
	b = appendJSONString(b, s.Region)
	b = append(b, `,"eventSourceARN":`...)
	b = appendJSONString(b, s.StreamARN)
	return append(b, '}')
}

// Event joins record elements into one invocation document,
// {"Records":[...]}.
func Event(elements [][]byte) []byte {
	size := len(`{"Records":[]}`)
	for _, e := range elements {
		size += len(e) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, `{"Records":[`...)
	for i, e := range elements {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, "]}"...)
}

// Events renders Kinesis records, as GetRecords returns them, as the
// invocations the mapping would send: the exact event Lambda builds, cut
// so that no invocation passes maxBytes (Lambda's payload quota,
// lambdaquota.SyncInvocationPayloadBytes, when maxBytes is 0 or more). A
// record too large for maxBytes goes alone. The local mapping and the
// redrive tool both build their invocations with this package, so a
// replayed batch is the batch the mapping sent.
func Events(src Source, records []types.Record, maxBytes int) [][]byte {
	if maxBytes <= 0 || maxBytes > lambdaquota.SyncInvocationPayloadBytes {
		maxBytes = lambdaquota.SyncInvocationPayloadBytes
	}
	var (
		events [][]byte
		batch  [][]byte
		size   = len(`{"Records":[]}`)
	)
	for _, r := range records {
		element := src.Element(aws.ToString(r.SequenceNumber), aws.ToString(r.PartitionKey), r.Data, aws.ToTime(r.ApproximateArrivalTimestamp))
		if len(batch) > 0 && size+len(element)+1 > maxBytes {
			events = append(events, Event(batch))
			batch, size = nil, len(`{"Records":[]}`)
		}
		batch = append(batch, element)
		size += len(element) + 1
	}
	if len(batch) > 0 {
		events = append(events, Event(batch))
	}
	return events
}

func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			quoted, _ := json.Marshal(s) // a string always marshals
			return append(b, quoted...)
		}
	}
	// Printable ASCII that encoding/json writes as it is: shard ids,
	// sequence numbers, ARNs, partition keys.
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
