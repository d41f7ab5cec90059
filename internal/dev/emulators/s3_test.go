package emulators_test

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/emulators/emutest"
)

// fauxqs also serves S3 on its endpoint. The failure bucket of the local
// run lives there, so every call the local mapping, verify and the redrive
// tool make must work through aws-sdk-go-v2's S3 client with path-style
// addressing: CreateBucket, PutObject, GetObject, ListObjectsV2 with a
// prefix and pagination, DeleteObject. SQS keeps working beside it.
func TestFauxqsServesS3PathStyle(t *testing.T) {
	ctx := t.Context()
	emu := emutest.StartAll(t, emulators.SQS)
	client := emu.S3 // path-style
	const bucket = "streamfn-dev-failures-0a1b2c3d"
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	// Keys of AWS's on-failure layout, with slashes, colons and dots.
	var keys []string
	for i := range 7 {
		shard := "shardId-000000000000"
		if i%2 == 1 {
			shard = "shardId-000000000001"
		}
		keys = append(keys, fmt.Sprintf("aws/lambda/5f3c1d2e-uuid/%s/2026/12/01/2026-12-01T00.4%d.05-0000000%d-aaaa-bbbb-cccc-dddddddddddd", shard, i, i))
	}
	keys = append(keys, "other/not-a-failure")
	body := func(k string) []byte { return []byte(`{"payload":"{\"Records\":[]}","key":"` + k + `"}`) }
	for _, k := range keys {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: bytes.NewReader(body(k)), ContentType: aws.String("application/json")}); err != nil {
			t.Fatalf("PutObject %s: %v", k, err)
		}
	}
	got, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(keys[3])})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	data, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if !bytes.Equal(data, body(keys[3])) {
		t.Fatalf("GetObject body %q, want %q", data, body(keys[3]))
	}

	// A failure document holds a whole invocation (up to 6 MB) escaped
	// as a string: larger than any single request elsewhere.
	big := bytes.Repeat([]byte(`{\"a\":1}`), 900_000)
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("big"), Body: bytes.NewReader(big)}); err != nil {
		t.Fatalf("PutObject of %d bytes: %v", len(big), err)
	}
	if got, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("big")}); err != nil {
		t.Fatalf("GetObject big: %v", err)
	} else if data, _ := io.ReadAll(got.Body); !bytes.Equal(data, big) {
		t.Fatalf("big object came back with %d bytes, want %d", len(data), len(big))
	}

	list := func(prefix string) []string {
		var listed []string
		pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(2)})
		n := 0
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListObjectsV2 %q page %d: %v", prefix, n, err)
			}
			n++
			if len(page.Contents) > 2 {
				t.Fatalf("a page of MaxKeys 2 held %d keys", len(page.Contents))
			}
			for _, o := range page.Contents {
				listed = append(listed, aws.ToString(o.Key))
			}
		}
		if len(listed) > 2 && n < 2 {
			t.Fatalf("%d keys came in %d page(s): no pagination", len(listed), n)
		}
		return listed
	}
	want := slices.Clone(keys[:7])
	slices.Sort(want)
	if l := list("aws/lambda/"); !slices.Equal(l, want) {
		t.Fatalf("listed %q\nwant %q", l, want)
	}
	if l := list("aws/lambda/5f3c1d2e-uuid/shardId-000000000001/"); len(l) != 3 {
		t.Fatalf("shard prefix listed %d keys, want 3: %q", len(l), l)
	}

	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(keys[0])}); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	if l := list("aws/lambda/"); slices.Contains(l, keys[0]) || len(l) != 6 {
		t.Fatalf("after DeleteObject: %q", l)
	}
	if _, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(keys[0])}); err == nil {
		t.Fatal("GetObject of a deleted key succeeded")
	}
	if _, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("k")}); err == nil {
		t.Fatal("GetObject in a missing bucket succeeded")
	}

	// An endpoint whose host is an IP address gets path-style requests
	// from S3's endpoint rules without UsePathStyle: a function's S3
	// client, configured only by AWS_ENDPOINT_URL_S3, reaches fauxqs too.
	fauxqs := emu.Servers[emulators.SQS]
	plain := s3.NewFromConfig(emutest.Config(fauxqs))
	if _, err := plain.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(keys[3])}); err != nil {
		t.Fatalf("GetObject without UsePathStyle at %s: %v", fauxqs.Endpoint, err)
	}

	// The same server still speaks SQS.
	if _, err := emu.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q")}); err != nil {
		t.Fatalf("SQS beside S3: %v", err)
	}
}
