package esm

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
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
