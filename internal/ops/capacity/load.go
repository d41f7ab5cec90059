package capacity

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/internal/aws/lambdaquota"
)

// Load describes the traffic a stack must carry. The YAML names are the size tool's flag names.
type Load struct {
	Rate          float64       `yaml:"rate" json:"rate"`                     // mean events/s
	PeakRate      float64       `yaml:"peak-rate" json:"peakRate"`            // peak events/s (0: the mean)
	EventBytes    int           `yaml:"event-bytes" json:"eventBytes"`        // mean event size
	MaxEventBytes int           `yaml:"max-event-bytes" json:"maxEventBytes"` // largest event (0: 4 x the mean)
	Users         int           `yaml:"users" json:"users"`                   // distinct active users
	HotUserShare  float64       `yaml:"hot-user-share" json:"hotUserShare"`   // share of traffic from the heaviest user
	Latency       time.Duration `yaml:"latency" json:"latency"`               // target end-to-end latency
	// RecordsPerS is what one processor invocation decodes and plans per second of CPU on one
	// vCPU, without waiting on DynamoDB: the `make bench` figure (README, "Speed").
	RecordsPerS float64 `yaml:"records-per-s" json:"recordsPerS"`
	Batch       int     `yaml:"batch" json:"batch"` // events per ingest request
	Region      string  `yaml:"region" json:"region"`
	Arch        string  `yaml:"arch" json:"arch"`
	// CurrentShards is the deployed stream's open shards, for UpdateShardCount's steps (0: new).
	CurrentShards int `yaml:"current-shards" json:"currentShards"`
}

// BenchRecordsPerS is the processor's decode-and-plan rate on one core, measured by `make bench`
// (README, "Speed": 446,317 records/s, median of three rounds, 10,000 records of ~850-byte
// events, GOMAXPROCS=1, on the 2-core development VM).
const BenchRecordsPerS = 446317

// DefaultLoad is the flags' defaults: the example workload of Pulumi.prod.yaml.
func DefaultLoad() Load {
	return Load{Rate: 5000, EventBytes: 1000, Users: 100000, Latency: 2 * time.Second,
		RecordsPerS: BenchRecordsPerS, Batch: 1, Region: "us-east-1", Arch: config.ArchitectureArm64}
}

// Flags registers the load's flags on fs, writing into l (which holds the defaults).
func (l *Load) Flags(fs *flag.FlagSet) {
	l.TrafficFlags(fs, "mean events/s")
	fs.DurationVar(&l.Latency, "latency", l.Latency, "target end-to-end latency, event accepted to item written")
	fs.StringVar(&l.Region, "region", l.Region, "AWS region; prices ship for us-east-1 only, others need -prices FILE")
	fs.StringVar(&l.Arch, "arch", l.Arch, "Lambda architecture: arm64 or x86_64")
}

// TrafficFlags registers the flags that describe traffic alone; a configured stack (the offline
// plan's cost flags) has its own region, architecture and batching.
func (l *Load) TrafficFlags(fs *flag.FlagSet, rateUsage string) {
	fs.Float64Var(&l.Rate, "rate", l.Rate, rateUsage)
	fs.Float64Var(&l.PeakRate, "peak-rate", l.PeakRate, "peak events/s the stream must take without throttling (0: the mean)")
	fs.IntVar(&l.EventBytes, "event-bytes", l.EventBytes, "mean event size in bytes, as written to the stream")
	fs.IntVar(&l.MaxEventBytes, "max-event-bytes", l.MaxEventBytes, "largest event in bytes (0: 4 x -event-bytes)")
	fs.IntVar(&l.Users, "users", l.Users, "distinct active users (userIds)")
	fs.Float64Var(&l.HotUserShare, "hot-user-share", l.HotUserShare, "share of all events from the heaviest single user, 0..1")
	fs.Float64Var(&l.RecordsPerS, "records-per-s", l.RecordsPerS,
		"processor records/s per invocation on one vCPU, CPU only, as make bench measures it (its median: README \"Speed\"); DynamoDB's wait is modelled on top")
	fs.IntVar(&l.Batch, "batch", l.Batch, "events per ingest request")
	fs.IntVar(&l.CurrentShards, "current-shards", l.CurrentShards, "the deployed stream's open shards, to plan UpdateShardCount's steps (0: a new stream)")
}

// ReadFile reads a YAML load file over l: keys are the flag names.
func (l *Load) ReadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading the load file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(l); err != nil {
		return fmt.Errorf("load file %s: %w (keys are the flag names: rate, peak-rate, event-bytes, max-event-bytes, users, hot-user-share, latency, records-per-s, batch, region, arch, current-shards)", path, err)
	}
	return nil
}

// Normalized fills the derived defaults: the peak is the mean, the largest event 4 x the mean.
func (l Load) Normalized() Load {
	if l.PeakRate == 0 {
		l.PeakRate = l.Rate
	}
	if l.MaxEventBytes == 0 {
		l.MaxEventBytes = min(4*l.EventBytes, maxRecordBytes)
	}
	return l
}

// Limits of the services a load must fit in. Lambda's invocation payload, which bounds a
// Function URL request and the stream mapping's batch alike, is
// lambdaquota.SyncInvocationPayloadBytes.
const (
	// A record's data blob: 1 MiB (https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html).
	maxRecordBytes = 1 << 20
	// A shard's writes: 1 MiB/s and 1,000 records/s (same page).
	shardBytesPerS   = 1 << 20
	shardRecordsPerS = 1000
)

// Check returns every problem that makes the load impossible or meaningless, each naming the
// flag, what is allowed and how to fix it.
func (l Load) Check() error {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if l.Rate <= 0 {
		add("-rate %g: must be more than 0 events/s", l.Rate)
	}
	if l.PeakRate != 0 && l.PeakRate < l.Rate {
		add("-peak-rate %g: must be at least -rate %g (or 0 for the mean)", l.PeakRate, l.Rate)
	}
	if l.EventBytes < 1 || l.EventBytes > maxRecordBytes {
		add("-event-bytes %d: must be 1..%d (Kinesis's 1 MiB record)", l.EventBytes, maxRecordBytes)
	}
	if l.MaxEventBytes != 0 && (l.MaxEventBytes < l.EventBytes || l.MaxEventBytes > maxRecordBytes) {
		add("-max-event-bytes %d: must be between -event-bytes %d and %d (Kinesis's 1 MiB record); larger events cannot be written to the stream",
			l.MaxEventBytes, l.EventBytes, maxRecordBytes)
	}
	if l.Users < 1 {
		add("-users %d: must be at least 1", l.Users)
	}
	if l.HotUserShare < 0 || l.HotUserShare > 1 {
		add("-hot-user-share %g: must be a share 0..1 (0.01 = 1%% of all events from one user)", l.HotUserShare)
	}
	if l.Latency < 100*time.Millisecond || l.Latency > time.Hour {
		add("-latency %s: must be 100ms..1h", l.Latency)
	}
	if l.RecordsPerS <= 0 {
		add("-records-per-s %g: must be more than 0 (default %d, from make bench)", l.RecordsPerS, BenchRecordsPerS)
	}
	if l.Batch < 1 || l.Batch > 500 {
		add("-batch %d: must be 1..500 events per ingest request (ingest writes one PutRecords call of at most 500 records)", l.Batch)
	}
	if l.Arch != config.ArchitectureArm64 && l.Arch != config.ArchitectureX8664 {
		add("-arch %q: must be arm64 or x86_64", l.Arch)
	}
	if l.CurrentShards < 0 {
		add("-current-shards %d: must be 0 (a new stream) or the deployed stream's open shards", l.CurrentShards)
	}
	n := l.Normalized()
	if len(p) == 0 {
		// A single user's events share one partition key (ingest keys by userId), so they all
		// land on one shard however many shards there are.
		hotRecords := n.PeakRate * n.HotUserShare
		hotBytes := hotRecords * float64(n.EventBytes)
		if hotRecords > shardRecordsPerS || hotBytes > shardBytesPerS {
			add("-hot-user-share %g: the heaviest user sends %.0f events/s (%.2f MB/s) at the peak, over one shard's %d records/s or 1 MiB/s; ingest keys records by userId, so one user's events cannot spread over shards. "+
				"Lower the share, or have that producer write under random partition keys (README, \"Exactly once: the guarantee\")",
				n.HotUserShare, hotRecords, hotBytes/1e6, shardRecordsPerS)
		}
		if req := ingestRequestBytes(n.Batch, n.MaxEventBytes); req > lambdaquota.SyncInvocationPayloadBytes {
			add("-batch %d x -max-event-bytes %d: an ingest request whose Function URL event is up to %d bytes, over Lambda's invocation payload of %d bytes; send at most %d events per request",
				n.Batch, n.MaxEventBytes, req, lambdaquota.SyncInvocationPayloadBytes, maxEventsPerRequest(n.MaxEventBytes))
		}
		if each := n.PeakRate * (1 - n.HotUserShare) / float64(n.Users); each > shardRecordsPerS {
			add("-users %d at %.0f events/s: each user sends %.0f events/s, over one shard's %d records/s, and a user's events share one partition key; describe at least %.0f users",
				n.Users, n.PeakRate, each, shardRecordsPerS, math.Ceil(n.PeakRate/shardRecordsPerS))
		}
	}
	if len(p) > 0 {
		return fmt.Errorf("impossible load:\n  %s", strings.Join(p, "\n  "))
	}
	return nil
}

// Lambda counts a Function URL request as the whole event it invokes the
// function with, not the HTTP body alone: the body sits in it as a JSON
// string, escaped, beside the headers and the request context
// (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html).
const (
	// functionURLEnvelopeBytes allows for the event's headers and request
	// context around the body.
	functionURLEnvelopeBytes = 4096
	// bodyEscapePercent allows for the body's escaping: a backslash per
	// quote, about 2.6 % of an activity event's JSON (26 quotes in 1 KB);
	// 10 % leaves room for shorter fields.
	bodyEscapePercent = 10
)

// ingestRequestBytes is the largest event a request of batch events of at
// most maxEventBytes each makes: the events with their separators (a JSON
// array or NDJSON), escaped, in the envelope.
func ingestRequestBytes(batch, maxEventBytes int) int {
	body := batch*(maxEventBytes+1) + 1
	return body + body*bodyEscapePercent/100 + functionURLEnvelopeBytes
}

// maxEventsPerRequest is the most events of maxEventBytes one request
// carries within Lambda's invocation payload (at least 1).
func maxEventsPerRequest(maxEventBytes int) int {
	body := (lambdaquota.SyncInvocationPayloadBytes - functionURLEnvelopeBytes) * 100 / (100 + bodyEscapePercent)
	return max(1, (body-1)/(maxEventBytes+1))
}
