package capacity

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/internal/aws/lambdaquota"
	"github.com/streamfn/streamfn/internal/features"
)

// Account quotas and service limits the warnings compare with.
const (
	// Kinesis "Shards per Region": 500 in us-east-1, us-west-2 and eu-west-1, 200 elsewhere
	// (https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html).
	shardQuotaLarge = 500
	shardQuotaSmall = 200
	// Lambda "Concurrent executions": 1,000 by default, often less in new accounts
	// (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
	lambdaConcurrencyQuota = 1000
	// An ON_DEMAND stream starts at 4 MiB/s and 4,000 records/s of writes, and takes at most
	// 200 MiB/s and 200,000 records/s by default
	// (https://docs.aws.amazon.com/streams/latest/dev/how-do-i-size-a-stream.html).
	onDemandMaxShards = 200
	// DynamoDB: one partition takes 1,000 write units/s, so one item can take at most that
	// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html).
	itemWriteUnitsPerS = 1000
)

// Warning codes, stable for scripts reading -json.
const (
	WarnShardQuota        = "shard-quota"
	WarnLambdaQuota       = "lambda-concurrency-quota"
	WarnHotUserShard      = "hot-user-shard"
	WarnHotUserItem       = "hot-user-item-write-rate"
	WarnHotUserSeen       = "hot-user-seen-set"
	WarnPayload           = "batch-payload-6mb"
	WarnShardSteps        = "update-shard-count-steps"
	WarnOnDemandStart     = "on-demand-initial-capacity"
	WarnOnDemandMax       = "on-demand-stream-limit"
	WarnThrottleShards    = "throttle-stream-writes"
	WarnThrottleProcessor = "throttle-processor"
	WarnThrottleIngest    = "throttle-ingest"
	WarnProvisionedQuota  = "provisioned-concurrency"
	WarnSeenSetCost       = "seen-set-write-cost"
)

// Warning is one limit or risk the load meets with a configuration.
type Warning struct {
	Code    string `json:"code"`
	Key     string `json:"key,omitempty"` // the streamfn: key to change, if one
	Message string `json:"message"`
}

func (w Warning) String() string { return w.Code + ": " + w.Message }

// Check lists the limits and risks of cfg under l: account quotas, a hot user's shard and
// item, Lambda's invocation payload, UpdateShardCount's steps from l.CurrentShards, and settings the
// load would throttle.
func Check(cfg *config.Config, l Load) []Warning {
	l = l.Normalized()
	e := EstimateFor(cfg, l)
	var ws []Warning
	add := func(code, key, format string, args ...any) {
		ws = append(ws, Warning{Code: code, Key: key, Message: fmt.Sprintf(format, args...)})
	}
	need := shardsFor(l.PeakRate, l.EventBytes)

	// Account quotas.
	quota := shardQuotaSmall
	if cfg.Region == "us-east-1" || cfg.Region == "us-west-2" || cfg.Region == "eu-west-1" {
		quota = shardQuotaLarge
	}
	if e.Shards > quota {
		add(WarnShardQuota, config.Key("shardCount"), "%d shards are over Kinesis's default quota of %d shards per region in %s (all streams of the account together); request more in Service Quotas (Kinesis, \"Shards per Region\") before pulumi up",
			e.Shards, quota, cfg.Region)
	}
	if need := cfg.RequiredAccountConcurrency(); need > lambdaConcurrencyQuota {
		add(WarnLambdaQuota, config.Key("processorConcurrency"), "the stack reserves %d concurrent executions and Lambda keeps 100 unreserved, so the account needs a \"Concurrent executions\" quota of at least %d; the default is %d. Request an increase (quota code L-B99A9384), and check with go run ./scripts/plan -account-concurrency N",
			cfg.ReservedConcurrency(), need, lambdaConcurrencyQuota)
	}
	if cfg.IngestProvisionedConcurrency > 0 && cfg.IngestConcurrency == config.Unreserved {
		add(WarnProvisionedQuota, config.Key("ingestProvisionedConcurrency"), "%d provisioned environments come out of the account's unreserved concurrency, which must keep 100 free; reserve ingest concurrency too", cfg.IngestProvisionedConcurrency)
	}

	// A hot user: one partition key, one shard, one item.
	hot := l.PeakRate * l.HotUserShare
	if hot > 0.5*shardRecordsPerS || hot*float64(l.EventBytes) > 0.5*shardBytesPerS {
		add(WarnHotUserShard, "", "the heaviest user sends %.0f events/s at the peak, over half of one shard's %d records/s or 1 MiB/s; its partition key (the userId) cannot spread, so its shard throttles first and its lane is the slowest",
			hot, shardRecordsPerS)
	}
	if hot > 0 {
		hotEntries := int(math.Min(features.MaxSeen, math.Ceil(hot*float64(cfg.DedupHorizonSeconds+features.LagAllowance))))
		_, hotBytes := ItemSize(hot, cfg.DedupHorizonSeconds)
		hotWU := (hotBytes + 1023) / 1024
		// The hot user is in every batch of its lane: one write per invocation of that lane.
		laneInvocations := e.InvocationsPerS / float64(e.Lanes)
		if rate := float64(hotWU) * laneInvocations; rate > 0.5*itemWriteUnitsPerS {
			add(WarnHotUserItem, config.Key("batchSize"), "the heaviest user's item (%d Seen entries, %d bytes, %d write units) is written %.1f times a second: %.0f write units/s against DynamoDB's %d per item; raise streamfn:batchWindowSeconds or streamfn:batchSize so its lane writes less often, or lower streamfn:dedupHorizonSeconds",
				hotEntries, hotBytes, hotWU, laneInvocations, rate, itemWriteUnitsPerS)
		}
		if hot*float64(cfg.DedupHorizonSeconds+features.LagAllowance) > features.MaxSeen {
			add(WarnHotUserSeen, config.Key("dedupHorizonSeconds"), "the heaviest user sends %.1f events/s, more than the %d Seen entries an item keeps over the duplicate horizon (%d s + %d s); its oldest entries are evicted early (DedupEvicted) and late duplicates of it may count twice",
				hot, features.MaxSeen, cfg.DedupHorizonSeconds, features.LagAllowance)
		}
	}

	// The Seen set's cost: each write carries the user's events within the horizon.
	if wu := e.WritesPerEvent * float64(e.WriteUnitsPerWrite); wu > 2 {
		add(WarnSeenSetCost, config.Key("batchWindowSeconds"), "each user sends %.2f events/s, so an item holds %d Seen entries (%d bytes, %d write units) and an event costs %.1f write units, more than the 2 of one idempotency write plus one update per record; a longer streamfn:batchWindowSeconds merges more of a user's events into one write, a shorter streamfn:dedupHorizonSeconds (%d s) makes items smaller but catches fewer late duplicates",
			l.Rate*(1-l.HotUserShare)/float64(l.Users), e.SeenEntries, e.ItemBytes, e.WriteUnitsPerWrite, wu, cfg.DedupHorizonSeconds)
	}

	// Lambda's invocation payload.
	if e.BatchPayloadBytes > lambdaquota.SyncInvocationPayloadBytes {
		add(WarnPayload, config.Key("batchSize"), "batchSize %d x the largest event (%d bytes, %d in the invocation's JSON) = %d bytes, over Lambda's invocation payload of %d bytes: the mapping cuts batches there, so at most %d such records come per invocation",
			cfg.BatchSize, l.MaxEventBytes, recordBytes(l.MaxEventBytes), e.BatchPayloadBytes, lambdaquota.SyncInvocationPayloadBytes, lambdaquota.SyncInvocationPayloadBytes/recordBytes(l.MaxEventBytes))
	}

	// The stream.
	if cfg.StreamMode == config.StreamModeProvisioned {
		if l.CurrentShards > 0 {
			if steps := config.ShardSteps(l.CurrentShards, cfg.ShardCount); len(steps) > 1 {
				texts := make([]string, len(steps))
				for i, n := range steps {
					texts[i] = strconv.Itoa(n)
				}
				add(WarnShardSteps, config.Key("shardCount"), "from %d open shards to %d takes %d UpdateShardCount calls (each at most doubles or halves): set streamfn:shardCount to %s, one pulumi up each",
					l.CurrentShards, cfg.ShardCount, len(steps), strings.Join(texts, ", then "))
			}
		}
		if float64(cfg.ShardCount) < need {
			add(WarnThrottleShards, config.Key("shardCount"), "%d shards take %d records/s and %d MiB/s of writes; the peak of %.0f events/s of %d bytes needs %.1f shards: writes are throttled (ingest answers 503)",
				cfg.ShardCount, cfg.ShardCount*shardRecordsPerS, cfg.ShardCount, l.PeakRate, l.EventBytes, need)
		}
	} else {
		if need > config.OnDemandInitialShards {
			add(WarnOnDemandStart, config.Key("streamMode"), "a new ON_DEMAND stream starts at 4 MiB/s and 4,000 records/s of writes and doubles from its previous peak over minutes; the peak needs %.1f shards' worth, so writes throttle until it has grown (or create it PROVISIONED and switch)",
				need)
		}
		if need > onDemandMaxShards {
			add(WarnOnDemandMax, config.Key("streamMode"), "the peak needs %.0f shards' worth of writes (MiB/s, or thousands of records/s), over an ON_DEMAND stream's default 200 MiB/s and 200,000 records/s; ask AWS to raise it or use PROVISIONED", need)
		}
	}

	// The processor: a lane's batches must take less time than the records take to arrive.
	peak := EstimateFor(cfg, Load{Rate: l.PeakRate, EventBytes: l.EventBytes, MaxEventBytes: l.MaxEventBytes, Users: l.Users, HotUserShare: l.HotUserShare,
		Latency: l.Latency, RecordsPerS: l.RecordsPerS, Batch: l.Batch, Region: l.Region, Arch: l.Arch})
	if peak.LaneUtilization > 0.9 {
		add(WarnThrottleProcessor, config.Key("parallelizationFactor"), "at the peak each of the %d lanes (shards x parallelizationFactor) is busy %.0f%% of the time (batches of %.0f records taking %.0f ms): the processor falls behind and the iterator age grows; raise streamfn:parallelizationFactor or streamfn:processorMemoryMb",
			peak.Lanes, 100*peak.LaneUtilization, peak.BatchRecords, peak.ProcessorDurationMs)
	}
	if cfg.ProcessorConcurrency != config.Unreserved && cfg.ProcessorConcurrency < e.Shards*cfg.ParallelizationFactor {
		add(WarnThrottleProcessor, config.Key("processorConcurrency"), "processorConcurrency %d is below the %d concurrent batches the stream's %d shards x parallelizationFactor %d run: shards throttle each other",
			cfg.ProcessorConcurrency, e.Shards*cfg.ParallelizationFactor, e.Shards, cfg.ParallelizationFactor)
	}
	if cfg.IngestConcurrency != config.Unreserved && float64(cfg.IngestConcurrency) < peak.IngestConcurrencyMean {
		add(WarnThrottleIngest, config.Key("ingestConcurrency"), "ingestConcurrency %d is below the %.0f concurrent requests the peak needs (Little's law: %.0f requests/s x %.0f ms): requests get 429",
			cfg.IngestConcurrency, peak.IngestConcurrencyMean, peak.IngestRequestsPerS, peak.IngestDurationMs)
	}
	return ws
}
