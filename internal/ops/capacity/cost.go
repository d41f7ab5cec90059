package capacity

import (
	"math"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/internal/aws/store"
)

// Item is one line of the monthly bill.
type Item struct {
	Service      string  `json:"service"`
	Item         string  `json:"item"`
	Quantity     float64 `json:"quantity"`
	Unit         string  `json:"unit"`
	UnitPriceUSD float64 `json:"unitPriceUsd"`
	USD          float64 `json:"usd"`
}

// Bill is a month of the stack under a load. Total is the sum of the items' USD.
type Bill struct {
	Total       float64 `json:"total"`
	Items       []Item  `json:"items"`
	Region      string  `json:"region"`
	PricesDated string  `json:"pricesDated"`
}

// Comparison prices the same load with the Powertools idempotency pattern: per record, one
// conditional PutItem of an idempotency record plus one UpdateItem of the user's item.
type Comparison struct {
	Pattern                      string  `json:"pattern"`
	WriteUnitsPerEvent           float64 `json:"writeUnitsPerEvent"`
	PowertoolsWriteUnitsPerEvent float64 `json:"powertoolsWriteUnitsPerEvent"`
	DynamoDBUSD                  float64 `json:"dynamodbUsd"`
	PowertoolsDynamoDBUSD        float64 `json:"powertoolsDynamodbUsd"`
	TotalUSD                     float64 `json:"totalUsd"`
	PowertoolsTotalUSD           float64 `json:"powertoolsTotalUsd"`
}

// The stack's fixed parts, each held equal to the offline plan by a test.
const (
	StackAlarms     = 9 // aws:cloudwatch/metricAlarm:MetricAlarm resources
	StackDashboards = 1
	// EMF metrics per function (the processor's report line and ingest's), one dimension set.
	processorMetrics = 19
	ingestMetrics    = 7
	// Log bytes per invocation, estimated from the lines' shapes: the processor's "batch
	// processed" line (~800) and EMF line (~1,500), ingest's "request done" line (~300) and EMF
	// line (~600), each with the platform's JSON start and report lines (~500).
	processorLogBytesPerInvocation = 2800
	ingestLogBytesPerRequest       = 1300
	// Poison records are rare in a healthy month; the bill counts one in 10,000 events sent
	// to the poison queue (one SendMessage each).
	poisonShare = 0.0001
	// Kinesis SSE: each producer and consumer asks KMS for a data key about every 5 minutes
	// per shard (https://docs.aws.amazon.com/streams/latest/dev/costs-performance.html).
	kmsRequestsPerShardHour = 2 * 12
	// An idempotency record of the Powertools pattern: id hash, status, expiry, under 1 KB.
	powertoolsIdempotencyBytes = 300
)

const gib = 1 << 30

// Cost prices a month of cfg under load l, with the stack's alarms and dashboards.
func Cost(cfg *config.Config, l Load, p *Prices) Bill {
	return CostWith(cfg, l, p, StackAlarms, StackDashboards)
}

// CostWith is Cost with the alarms and dashboards counted elsewhere (the offline plan counts
// the program's resources).
func CostWith(cfg *config.Config, l Load, p *Prices, alarms, dashboards int) Bill {
	l = l.Normalized()
	e := EstimateFor(cfg, l)
	seconds := float64(hoursPerMonth * 3600)
	b := Bill{Region: p.Region, PricesDated: p.Date}
	add := func(service, item string, quantity float64, key string) {
		pr := p.get(key)
		b.Items = append(b.Items, Item{Service: service, Item: item, Quantity: round(quantity, 3), Unit: pr.Unit, UnitPriceUSD: pr.USD, USD: round(quantity*pr.USD, 2)})
	}
	events := l.Rate * seconds
	// Kinesis.
	kb := math.Ceil(float64(l.EventBytes) / 1024)
	if cfg.StreamMode == config.StreamModeOnDemand {
		gbIn := events * kb * 1024 / gib
		add("kinesis", "on-demand stream-hours", hoursPerMonth, "kinesis/on-demand-stream-hour")
		add("kinesis", "on-demand data in", gbIn, "kinesis/on-demand-data-in-gb")
		add("kinesis", "on-demand data out", gbIn, "kinesis/on-demand-data-out-gb")
		if cfg.RetentionHours > 24 {
			stored := l.Rate * kb * 1024 * float64(min(cfg.RetentionHours, 168)-24) * 3600 / gib
			add("kinesis", "extended retention", stored, "kinesis/on-demand-extended-retention-gb-month")
		}
	} else {
		add("kinesis", "shard-hours", float64(cfg.ShardCount*hoursPerMonth), "kinesis/shard-hour")
		add("kinesis", "PUT payload units", events*math.Ceil(float64(l.EventBytes)/(25*1024)), "kinesis/put-payload-unit")
		if cfg.RetentionHours > 24 {
			add("kinesis", "extended retention", float64(cfg.ShardCount*hoursPerMonth), "kinesis/extended-retention-shard-hour")
		}
	}
	if cfg.RetentionHours > 168 {
		stored := l.Rate * float64(l.EventBytes) * float64(cfg.RetentionHours-168) * 3600 / gib
		add("kinesis", "long-term retention", stored, "kinesis/long-term-retention-gb-month")
	}
	if cfg.Consumer == config.ConsumerEFO {
		add("kinesis", "enhanced fan-out consumer-shard-hours", float64(e.Shards*hoursPerMonth), "kinesis/efo-consumer-shard-hour")
		add("kinesis", "enhanced fan-out data", events*float64(l.EventBytes)/gib, "kinesis/efo-data-out-gb")
	}
	// Lambda.
	invocations := e.InvocationsPerS * seconds
	requests := e.IngestRequestsPerS * seconds
	add("lambda", "requests (processor + ingest)", invocations+requests, "lambda/request")
	gbs := invocations*e.ProcessorDurationMs/1000*float64(cfg.ProcessorMemoryMB)/1024 +
		requests*e.IngestDurationMs/1000*float64(cfg.IngestMemoryMB)/1024
	add("lambda", "GB-seconds "+cfg.Architecture, gbs, "lambda/gb-second-"+cfg.Architecture)
	if cfg.IngestProvisionedConcurrency > 0 {
		add("lambda", "provisioned concurrency (ingest)", float64(cfg.IngestProvisionedConcurrency)*float64(cfg.IngestMemoryMB)/1024*seconds,
			"lambda/provisioned-gb-second-"+cfg.Architecture)
	}
	// DynamoDB.
	writes := events * e.WritesPerEvent
	add("dynamodb", "write request units", writes*float64(e.WriteUnitsPerWrite), "dynamodb/write-request-unit")
	add("dynamodb", "read request units (strongly consistent)", writes*float64(e.ReadUnitsPerRead), "dynamodb/read-request-unit")
	add("dynamodb", "storage", float64(l.Users)*float64(e.ItemBytes+100)/gib, "dynamodb/storage-gb-month")
	// Queues, bucket, CloudWatch, KMS.
	add("sqs", "requests (poison messages)", events*poisonShare, "sqs/request")
	add("s3", "PUT requests (failed batches; none in a healthy month)", 0, "s3/put-request")
	add("cloudwatch", "alarms", float64(alarms), "cloudwatch/alarm-month")
	add("cloudwatch", "dashboard", float64(dashboards), "cloudwatch/dashboard-month")
	add("cloudwatch", "custom metrics (EMF)", processorMetrics+ingestMetrics, "cloudwatch/custom-metric-month")
	logGB := (invocations*processorLogBytesPerInvocation + requests*ingestLogBytesPerRequest) / gib
	add("cloudwatch", "logs ingestion", logGB, "cloudwatch/logs-ingestion-gb")
	if cfg.KMSKeyID != "" {
		add("kms", "customer managed key", 1, "kms/key-month")
	}
	add("kms", "requests (stream encryption data keys)", float64(e.Shards*hoursPerMonth*kmsRequestsPerShardHour), "kms/request")
	for _, it := range b.Items {
		b.Total += it.USD
	}
	b.Total = round(b.Total, 2)
	return b
}

// Compare prices the DynamoDB part of the load with the Powertools idempotency pattern.
func Compare(cfg *config.Config, l Load, p *Prices, b Bill) Comparison {
	l = l.Normalized()
	e := EstimateFor(cfg, l)
	events := l.Rate * hoursPerMonth * 3600
	c := Comparison{
		Pattern:                      "Powertools idempotency: one conditional PutItem of an idempotency record plus one UpdateItem of the user's item, per record (the utility also marks the record COMPLETED, a third write not counted here)",
		WriteUnitsPerEvent:           round(e.WritesPerEvent*float64(e.WriteUnitsPerWrite), 4),
		PowertoolsWriteUnitsPerEvent: float64(store.WriteUnits(powertoolsIdempotencyBytes) + store.WriteUnits(featuresOnlyBytes())),
		TotalUSD:                     b.Total,
	}
	for _, it := range b.Items {
		if it.Service == "dynamodb" && it.Item != "storage" {
			c.DynamoDBUSD += it.USD
		}
	}
	c.DynamoDBUSD = round(c.DynamoDBUSD, 2)
	c.PowertoolsDynamoDBUSD = round(events*c.PowertoolsWriteUnitsPerEvent*p.get("dynamodb/write-request-unit").USD, 2)
	c.PowertoolsTotalUSD = round(b.Total-c.DynamoDBUSD+c.PowertoolsDynamoDBUSD, 2)
	return c
}

func round(f float64, places int) float64 {
	s := math.Pow(10, float64(places))
	return math.Round(f*s) / s
}
