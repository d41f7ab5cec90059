package esm

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// record is one Kinesis record as the mapping holds it: its identity, its
// arrival time and its element of the invocation's Records array, encoded
// once when it is read so that retries and bisected halves reuse it.
type record struct {
	sequenceNumber string
	partitionKey   string
	arrival        time.Time
	element        []byte
}

// eventSource is what every record element of one mapping shares.
type eventSource struct {
	shardID           string
	streamARN         string
	region            string
	invokeIdentityARN string
}

// encodeRecord renders one element of a Kinesis event's Records array
// exactly as Lambda sends it (aws-lambda-go's events.KinesisEventRecord):
// data in base64, approximateArrivalTimestamp in epoch seconds with
// millisecond precision, eventID "shardId-...:sequenceNumber".
func (s eventSource) encodeRecord(sequenceNumber, partitionKey string, data []byte, arrival time.Time) []byte {
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
	b = appendJSONString(b, s.shardID+":"+sequenceNumber)
	b = append(b, `,"eventName":"aws:kinesis:record","invokeIdentityArn":`...)
	b = appendJSONString(b, s.invokeIdentityARN)
	b = append(b, `,"awsRegion":`...)
	b = appendJSONString(b, s.region)
	b = append(b, `,"eventSourceARN":`...)
	b = appendJSONString(b, s.streamARN)
	return append(b, '}')
}

// encodeEvent joins record elements into one Kinesis event.
func encodeEvent(records []record) []byte {
	size := len(`{"Records":[]}`)
	for _, r := range records {
		size += len(r.element) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, `{"Records":[`...)
	for i, r := range records {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r.element...)
	}
	return append(b, "]}"...)
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

// EventSource is what every record of one shard's invocations carries
// besides the record itself: the shard, the stream, the region and the
// function's execution role (invokeIdentityArn).
type EventSource struct {
	ShardID           string
	StreamARN         string
	Region            string
	InvokeIdentityARN string
}

// Events renders Kinesis records, as GetRecords returns them, as the
// invocations the mapping would send: the exact event Lambda builds, cut
// so that no invocation passes maxBytes (Lambda's 6 MB payload limit when
// maxBytes is 0 or more). A record too large for maxBytes goes alone. The
// redrive tool rebuilds discarded batches with it, so that one encoder
// serves the local mapping and the replay.
func Events(src EventSource, records []types.Record, maxBytes int) [][]byte {
	if maxBytes <= 0 || maxBytes > maxPayloadBytes {
		maxBytes = maxPayloadBytes
	}
	s := eventSource{shardID: src.ShardID, streamARN: src.StreamARN, region: src.Region, invokeIdentityARN: src.InvokeIdentityARN}
	var (
		events [][]byte
		batch  []record
		size   = len(`{"Records":[]}`)
	)
	for _, r := range records {
		seq, key := aws.ToString(r.SequenceNumber), aws.ToString(r.PartitionKey)
		rec := record{sequenceNumber: seq, partitionKey: key, arrival: aws.ToTime(r.ApproximateArrivalTimestamp)}
		rec.element = s.encodeRecord(seq, key, r.Data, rec.arrival)
		if len(batch) > 0 && size+len(rec.element)+1 > maxBytes {
			events = append(events, encodeEvent(batch))
			batch, size = nil, len(`{"Records":[]}`)
		}
		batch = append(batch, rec)
		size += len(rec.element) + 1
	}
	if len(batch) > 0 {
		events = append(events, encodeEvent(batch))
	}
	return events
}
