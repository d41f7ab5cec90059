package capacity

import (
	"fmt"
	"math"
	"time"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/internal/aws/lambdaquota"
	"github.com/streamfn/streamfn/internal/aws/store"
	"github.com/streamfn/streamfn/internal/features"
	"github.com/streamfn/streamfn/internal/processor"
)

// The model's assumptions about AWS's behaviour and latencies. They are the weakest part of
// the model (README, "How far to trust the planner"): the dashboard's batch duration replaces
// them once a stack runs.
const (
	// Lambda polls a shard about once a second when the batching window is 0.
	pollInterval = time.Second
	// A BatchGetItem of up to 100 keys and a conditional PutItem, tail latencies included
	// (DynamoDB's single-digit-millisecond medians, with a batch waiting for its slowest user).
	batchGetLatency = 20 * time.Millisecond
	putItemLatency  = 15 * time.Millisecond
	// Lambda's per-invocation overhead for a warm environment.
	invokeOverhead = 5 * time.Millisecond
	// An ingest request of one event: validate, one PutRecords call; prod's comment assumes
	// ~20 ms; each further event in the request adds its validation and bytes.
	ingestBase     = 20 * time.Millisecond
	ingestPerEvent = 20 * time.Microsecond
	// 1,769 MB of memory is one vCPU (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
	mbPerVCPU = 1769
	// Kinesis's event JSON for one record: base64 data (4/3) plus ~300 bytes of metadata.
	recordEnvelopeBytes = 300
	// Hours in a billing month, as AWS's pricing examples count them.
	hoursPerMonth = 730
)

// The processor's defaults: WRITE_CONCURRENCY (users read and written at once) and the TTL
// attribute, whose name's bytes count in the item size.
var (
	writeConcurrency = processor.Defaults().WriteConcurrency
	ttlAttribute     = processor.Defaults().TTLAttribute
)

// Estimate is what the model predicts for one stack configuration under one load.
type Estimate struct {
	Shards                int     `json:"shards"` // write capacity in shards (ON_DEMAND: what AWS keeps, twice the peak)
	Lanes                 int     `json:"lanes"`  // shards x parallelization factor with records in them
	LaneRecordsPerS       float64 `json:"laneRecordsPerS"`
	BatchRecords          float64 `json:"batchRecords"` // mean records per processor invocation
	InvocationsPerS       float64 `json:"invocationsPerS"`
	UsersPerBatch         float64 `json:"usersPerBatch"`
	WritesPerEvent        float64 `json:"writesPerEvent"`
	SeenEntries           int     `json:"seenEntries"` // of a typical user's item
	ItemBytes             int     `json:"itemBytes"`
	WriteUnitsPerWrite    int     `json:"writeUnitsPerWrite"`
	ReadUnitsPerRead      int     `json:"readUnitsPerRead"`
	ProcessorDurationMs   float64 `json:"processorDurationMs"`
	LaneUtilization       float64 `json:"laneUtilization"` // share of time a lane's invocation runs
	IngestRequestsPerS    float64 `json:"ingestRequestsPerS"`
	IngestDurationMs      float64 `json:"ingestDurationMs"`
	IngestConcurrencyMean float64 `json:"ingestConcurrencyMean"` // Little's law: requests/s x duration
	BatchPayloadBytes     int     `json:"batchPayloadBytes"`     // the largest batch's invocation payload
}

// EstimateFor predicts how a stack configured as cfg behaves under load l.
func EstimateFor(cfg *config.Config, l Load) Estimate {
	l = l.Normalized()
	var e Estimate
	e.Shards = cfg.ShardCount
	if cfg.StreamMode == config.StreamModeOnDemand {
		// ON_DEMAND keeps write capacity at twice the peak of the last 30 days, at least 4 shards
		// (https://docs.aws.amazon.com/streams/latest/dev/how-do-i-size-a-stream.html).
		e.Shards = max(config.OnDemandInitialShards, int(math.Ceil(2*shardsFor(l.PeakRate, l.EventBytes))))
	}
	e.Lanes = max(1, min(e.Shards*cfg.ParallelizationFactor, l.Users))
	e.LaneRecordsPerS = l.Rate / float64(e.Lanes)

	interval := time.Duration(cfg.BatchWindowSeconds) * time.Second
	if interval == 0 {
		interval = pollInterval
	}
	payloadCap := float64(lambdaquota.SyncInvocationPayloadBytes) / float64(recordBytes(l.EventBytes))
	e.BatchRecords = max(1, min(float64(cfg.BatchSize), e.LaneRecordsPerS*interval.Seconds(), payloadCap))
	e.InvocationsPerS = float64(e.Lanes) * e.LaneRecordsPerS / e.BatchRecords
	e.BatchPayloadBytes = cfg.BatchSize * recordBytes(l.MaxEventBytes)

	// Users are spread evenly over lanes (partition keys hash evenly); a batch of n records
	// drawn from a lane's u users holds u(1-(1-1/u)^n) distinct users, one write each.
	u := max(1, float64(l.Users)/float64(e.Lanes))
	n := e.BatchRecords
	e.UsersPerBatch = min(n, u*(1-math.Pow(1-1/u, n)))
	if u == 1 {
		e.UsersPerBatch = 1
	}
	e.WritesPerEvent = e.UsersPerBatch / n

	userRate := l.Rate * (1 - l.HotUserShare) / float64(l.Users)
	e.SeenEntries, e.ItemBytes = ItemSize(userRate, cfg.DedupHorizonSeconds)
	e.WriteUnitsPerWrite = store.WriteUnits(e.ItemBytes)
	e.ReadUnitsPerRead = (e.ItemBytes + 4095) / 4096

	e.ProcessorDurationMs = ms(ProcessorDuration(n, e.UsersPerBatch, cfg.ProcessorMemoryMB, l.RecordsPerS))
	e.LaneUtilization = e.InvocationsPerS / float64(e.Lanes) * e.ProcessorDurationMs / 1000

	e.IngestRequestsPerS = l.Rate / float64(l.Batch)
	e.IngestDurationMs = ms(IngestDuration(l.Batch))
	e.IngestConcurrencyMean = e.IngestRequestsPerS * e.IngestDurationMs / 1000
	return e
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// recordBytes is one record's share of an invocation payload: its data in base64 plus metadata.
func recordBytes(eventBytes int) int { return (eventBytes+2)/3*4 + recordEnvelopeBytes }

// shardsFor is the write capacity, in shards, that rate events/s of eventBytes need.
func shardsFor(rate float64, eventBytes int) float64 {
	return max(rate*float64(eventBytes)/shardBytesPerS, rate/shardRecordsPerS)
}

// ProcessorDuration is one invocation's time for a batch of records holding users distinct
// users: decoding on the function's share of a vCPU, then one BatchGetItem per 100 users and
// the users' writes, writeConcurrency at a time.
func ProcessorDuration(records, users float64, memoryMB int, recordsPerS float64) time.Duration {
	vcpu := min(1, float64(memoryMB)/mbPerVCPU)
	cpu := time.Duration(records / (recordsPerS * vcpu) * float64(time.Second))
	reads := time.Duration(math.Ceil(users/100)) * batchGetLatency
	writes := time.Duration(math.Ceil(users/float64(writeConcurrency))) * putItemLatency
	return invokeOverhead + cpu + reads + writes
}

// IngestDuration is one ingest request's time with events events.
func IngestDuration(events int) time.Duration {
	return ingestBase + time.Duration(max(0, events-1))*ingestPerEvent
}

// ItemSize is the Seen entries and the bytes, measured with the processor's own encoder
// (store.ItemBytes), of the item of a user who sends userRate events/s under userId keys:
// about 1 KB of features (20 recent products, 5 categories) plus 21 bytes per event within the
// duplicate horizon and features.LagAllowance.
func ItemSize(userRate float64, dedupHorizonSeconds int) (entries, bytes int) {
	entries = min(features.MaxSeen, int(math.Ceil(userRate*float64(dedupHorizonSeconds+features.LagAllowance))))
	return entries, ItemBytesWith(entries)
}

// ItemBytesWith is the size of a typical item holding entries Seen entries.
func ItemBytesWith(entries int) int { return store.ItemBytes(typicalItem(entries, 5), ttlAttribute) }

// featuresOnlyBytes is the item without a Seen set: what the Powertools pattern's item holds.
func featuresOnlyBytes() int { return store.ItemBytes(typicalItem(0, 5), ttlAttribute) }

func typicalItem(entries, categories int) *features.Item {
	it := features.NewItem("user-0000042")
	it.EventCount, it.TypeCounts = 12345, [4]int64{5000, 4000, 2000, 1345}
	for c := range categories {
		it.CategoryCounts[fmt.Sprintf("category-%02d", c)] = 100
	}
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for p := range 20 {
		it.RecentProducts = append(it.RecentProducts, features.RecentProduct{ProductID: fmt.Sprintf("product-%06d", p), At: at})
	}
	it.PurchaseTotal, _ = features.PurchaseAmount(1234.56, 3)
	it.LastEventAt, it.ExpiresAt, it.Version = at, 1795694400, 1234
	it.Marks["shardId-000000000003"] = features.Position{Sequence: "49590338271490256608559692538361571095921575989136588898"}
	for i := range entries {
		it.Seen = append(it.Seen, features.Seen{Key: features.EventKeyOf(fmt.Sprint(i)), Arrival: at.Unix()})
	}
	return it
}
