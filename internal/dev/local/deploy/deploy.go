// Package deploy derives the local deployment from the offline plan: the
// stream, table, queues, functions, event-source mapping and Function URL
// exactly as the Pulumi program declares them for a stack, read from the
// resources' inputs (Pulumi property names) and the stack outputs. Nothing
// here knows a config key or a default of the project: where an input is
// absent, AWS's own default for that property applies.
package deploy

import (
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/google/uuid"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/infra/pipeline"
	"github.com/streamfn/streamfn/infra/plan"
	"github.com/streamfn/streamfn/internal/codec/rfc3339"
)

// Resource type tokens and the fixed logical names the local run finds.
const (
	TypeStream      = "aws:kinesis/stream:Stream"
	TypeFunction    = "aws:lambda/function:Function"
	TypeTable       = "aws:dynamodb/table:Table"
	TypeQueue       = "aws:sqs/queue:Queue"
	TypeMapping     = "aws:lambda/eventSourceMapping:EventSourceMapping"
	TypeFunctionURL = "aws:lambda/functionUrl:FunctionUrl"
	TypeBucket      = "aws:s3/bucketV2:BucketV2"

	StreamName      = "stream"
	IngestName      = "ingest"
	ProcessorName   = "processor"
	TableName       = "features"
	FailuresName    = "failures" // the failures queue, or the failures bucket
	PoisonName      = "poison"
	MappingName     = "processor-stream"
	FunctionURLName = "ingest-url"
)

// Deployment is everything the local run creates and runs.
type Deployment struct {
	Stack     string
	Region    string
	AccountID string
	Stream    Stream
	Table     Table
	Queues    []Queue // in the order failures (with failureDestination sqs), poison
	// FailureBucket holds failed batches (failureDestination s3) and
	// oversized poison payloads.
	FailureBucket Bucket
	Ingest        Function
	Processor     Function
	Mapping       Mapping
	URL           FunctionURL
}

// Stream is the Kinesis stream.
type Stream struct {
	Name           string
	ARN            string
	Mode           string // PROVISIONED or ON_DEMAND
	Shards         int
	RetentionHours int
}

// Bucket is an S3 bucket of the stack.
type Bucket struct {
	Name string
	ARN  string
}

// Table is the DynamoDB table.
type Table struct {
	Name         string
	HashKey      string
	Attributes   []Attribute
	TTLAttribute string // "" when TTL is off
}

// Attribute is one key attribute definition.
type Attribute struct{ Name, Type string }

// Queue is one SQS queue, with the URL the plan (AWS) gives it.
type Queue struct {
	Logical string
	Name    string
	URL     string // https://sqs.<region>.amazonaws.com/<account>/<name>
	ARN     string
}

// Function is one Lambda function.
type Function struct {
	Logical string // ingest or processor: also the folder under functions/
	Name    string
	ARN     string
	RoleARN string
	// MemoryMB and Timeout are memorySize and timeout.
	MemoryMB int
	Timeout  time.Duration
	// Environment is environment.variables, as the plan states them (queue
	// URLs are AWS's; Env maps them to local ones).
	Environment map[string]string
	// ReservedConcurrency is reservedConcurrentExecutions; -1 is unreserved.
	ReservedConcurrency int
	LogFormat           string // loggingConfig.logFormat
	LogLevel            string // loggingConfig.applicationLogLevel
}

// Mapping is the stream → processor event-source mapping.
type Mapping struct {
	Enabled                    bool
	BatchSize                  int
	MaximumBatchingWindow      time.Duration
	ParallelizationFactor      int
	StartingPosition           string
	StartingPositionTimestamp  time.Time
	MaximumRetryAttempts       int
	MaximumRecordAge           time.Duration // negative: no limit
	BisectBatchOnFunctionError bool
	ReportBatchItemFailures    bool
	TumblingWindow             time.Duration
	// OnFailure is the logical name of the on-failure destination ("" for
	// none), and OnFailureType its type: TypeQueue (metadata) or TypeBucket
	// (records with their payload, under failure.ObjectKey).
	OnFailure     string
	OnFailureType string
}

// FunctionURL is ingest's Function URL.
type FunctionURL struct {
	AuthType string // AWS_IAM or NONE
	URL      string // the URL the plan gives it
}

// From reads the deployment from a plan and reports every problem at once.
func From(p *plan.Plan) (*Deployment, error) {
	r := &reader{plan: p}
	d := &Deployment{Stack: p.Stack}

	streamArn := r.output(pipeline.OutputStreamARN)
	d.Region, d.AccountID = arnRegionAccount(streamArn)
	if d.Region == "" {
		r.problem("stack output streamArn %q is not a Kinesis stream ARN", streamArn)
	}

	if res, ok := r.find(TypeStream, StreamName); ok {
		in := inputs(res.Inputs)
		d.Stream = Stream{
			Name:           r.output(pipeline.OutputStreamName),
			ARN:            streamArn,
			Mode:           in.str("streamModeDetails.streamMode", "PROVISIONED"),
			RetentionHours: in.integer("retentionPeriod", 24),
		}
		switch d.Stream.Mode {
		case "ON_DEMAND":
			// kinesalite gets the shards AWS starts an ON_DEMAND stream
			// with, the number validation sizes reserved concurrency by.
			d.Stream.Shards = config.OnDemandInitialShards
		default:
			d.Stream.Shards = in.integer("shardCount", 0)
			if d.Stream.Shards < 1 {
				r.problem("stream %q: PROVISIONED with shardCount %d: the plan must give at least 1 shard", StreamName, d.Stream.Shards)
			}
		}
	}

	if res, ok := r.find(TypeTable, TableName); ok {
		in := inputs(res.Inputs)
		d.Table = Table{Name: r.output(pipeline.OutputTableName), HashKey: in.str("hashKey", "")}
		for _, a := range in.list("attributes") {
			attr := inputs(asMap(a))
			d.Table.Attributes = append(d.Table.Attributes, Attribute{Name: attr.str("name", ""), Type: attr.str("type", "")})
		}
		if in.boolean("ttl.enabled", false) {
			d.Table.TTLAttribute = in.str("ttl.attributeName", "")
		}
		if d.Table.HashKey == "" {
			r.problem("table %q has no hashKey in the plan", TableName)
		}
	}

	queueURLOutput := map[string]string{FailuresName: pipeline.OutputFailuresQueueURL, PoisonName: pipeline.OutputPoisonQueueURL}
	for _, logical := range []string{FailuresName, PoisonName} {
		if _, ok := r.plan.Find(TypeQueue, logical); !ok {
			if logical == PoisonName {
				r.find(TypeQueue, logical) // required: reports it
			}
			continue // the failures queue exists with failureDestination sqs only
		}
		q := Queue{Logical: logical, URL: r.output(queueURLOutput[logical])}
		u, err := url.Parse(q.URL)
		if err != nil || path.Base(u.Path) == "" || path.Base(u.Path) == "/" {
			r.problem("stack output %s %q is not a queue URL", queueURLOutput[logical], q.URL)
			continue
		}
		q.Name = path.Base(u.Path)
		q.ARN = fmt.Sprintf("arn:aws:sqs:%s:%s:%s", d.Region, d.AccountID, q.Name)
		d.Queues = append(d.Queues, q)
	}

	if _, ok := r.find(TypeBucket, FailuresName); ok {
		name := r.output(pipeline.OutputFailureBucketName)
		d.FailureBucket = Bucket{Name: name, ARN: "arn:aws:s3:::" + name}
	}

	d.Ingest = r.function(d, IngestName)
	d.Processor = r.function(d, ProcessorName)

	if res, ok := r.find(TypeMapping, MappingName); ok {
		d.Mapping = r.mapping(d, inputs(res.Inputs))
	}

	if res, ok := r.find(TypeFunctionURL, FunctionURLName); ok {
		in := inputs(res.Inputs)
		d.URL = FunctionURL{AuthType: in.str("authorizationType", "AWS_IAM"), URL: r.optionalOutput(pipeline.OutputIngestURL)}
		if target := in.str("functionName", ""); target != "" && lastSegment(target) != d.Ingest.Name {
			r.problem("Function URL %q targets %q, not the ingest function %q", FunctionURLName, target, d.Ingest.Name)
		}
	}

	if len(r.problems) > 0 {
		return nil, fmt.Errorf("the plan of stack %q cannot be run locally:\n  %s", p.Stack, strings.Join(r.problems, "\n  "))
	}
	return d, nil
}

func (r *reader) function(d *Deployment, logical string) Function {
	res, ok := r.find(TypeFunction, logical)
	if !ok {
		return Function{}
	}
	in := inputs(res.Inputs)
	f := Function{
		Logical:             logical,
		Name:                r.output(logical + "FunctionName"),
		RoleARN:             in.str("role", ""),
		MemoryMB:            in.integer("memorySize", 128),
		Timeout:             time.Duration(in.integer("timeout", 3)) * time.Second,
		ReservedConcurrency: in.integer("reservedConcurrentExecutions", -1),
		LogFormat:           in.str("loggingConfig.logFormat", "Text"),
		LogLevel:            in.str("loggingConfig.applicationLogLevel", ""),
		Environment:         map[string]string{},
	}
	f.ARN = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", d.Region, d.AccountID, f.Name)
	for k, v := range asMap(in.get("environment.variables")) {
		s, ok := v.(string)
		if !ok {
			r.problem("function %q: environment variable %s is %T in the plan, not a string", logical, k, v)
			continue
		}
		f.Environment[k] = s
	}
	return f
}

func (r *reader) mapping(d *Deployment, in inputs) Mapping {
	m := Mapping{
		Enabled:                    in.boolean("enabled", true),
		BatchSize:                  in.integer("batchSize", 100),
		MaximumBatchingWindow:      time.Duration(in.integer("maximumBatchingWindowInSeconds", 0)) * time.Second,
		ParallelizationFactor:      in.integer("parallelizationFactor", 1),
		StartingPosition:           in.str("startingPosition", ""),
		MaximumRetryAttempts:       in.integer("maximumRetryAttempts", -1),
		MaximumRecordAge:           time.Duration(in.integer("maximumRecordAgeInSeconds", -1)) * time.Second,
		BisectBatchOnFunctionError: in.boolean("bisectBatchOnFunctionError", false),
		TumblingWindow:             time.Duration(in.integer("tumblingWindowInSeconds", 0)) * time.Second,
	}
	if ts := in.str("startingPositionTimestamp", ""); ts != "" {
		t, err := rfc3339.Parse(ts)
		if err != nil {
			r.problem("mapping %q: startingPositionTimestamp %q is not RFC 3339", MappingName, ts)
		}
		m.StartingPositionTimestamp = t
	}
	for _, t := range in.list("functionResponseTypes") {
		if t == "ReportBatchItemFailures" {
			m.ReportBatchItemFailures = true
		}
	}
	if source := in.str("eventSourceArn", ""); source != d.Stream.ARN {
		r.problem("mapping %q reads %q, not the stream %q", MappingName, source, d.Stream.ARN)
	}
	if target := lastSegment(in.str("functionName", "")); target != d.Processor.Name {
		r.problem("mapping %q invokes %q, not the processor %q", MappingName, target, d.Processor.Name)
	}
	if dest := in.str("destinationConfig.onFailure.destinationArn", ""); dest != "" {
		for _, q := range d.Queues {
			if q.ARN == dest {
				m.OnFailure, m.OnFailureType = q.Logical, TypeQueue
			}
		}
		if d.FailureBucket.ARN != "" && dest == d.FailureBucket.ARN {
			m.OnFailure, m.OnFailureType = FailuresName, TypeBucket
		}
		if m.OnFailure == "" {
			r.problem("mapping %q: on-failure destination %q is none of the stack's queues or buckets; only those can be emulated", MappingName, dest)
		}
	}
	return m
}

// MappingUUID is the local mapping's UUID: stable for a stack's stream and
// processor, as an event-source mapping's UUID is for its lifetime. It
// names the mapping's folder in the failure bucket
// (aws/lambda/<ESM-UUID>/...).
func (d *Deployment) MappingUUID() string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("streamfn-local:"+d.Stack+":"+d.Stream.ARN+":"+d.Processor.ARN)).String()
}

// Queue returns the queue with the logical name.
func (d *Deployment) Queue(logical string) (Queue, bool) {
	for _, q := range d.Queues {
		if q.Logical == logical {
			return q, true
		}
	}
	return Queue{}, false
}

// Env is the function's environment as the local run sets it: the plan's
// variables with every AWS queue URL replaced by its local one (localURLs
// maps the plan's URL to the local URL), and the variables Lambda sets
// from loggingConfig.
func (f Function) Env(localURLs map[string]string) map[string]string {
	env := make(map[string]string, len(f.Environment)+2)
	for k, v := range f.Environment {
		if local, ok := localURLs[v]; ok {
			v = local
		}
		env[k] = v
	}
	env["AWS_LAMBDA_LOG_FORMAT"] = f.LogFormat
	if f.LogLevel != "" {
		env["AWS_LAMBDA_LOG_LEVEL"] = f.LogLevel
	}
	return env
}

// Concurrency is how many execution environments the local run allows
// the function: its reserved concurrency, or unreservedCap when it has
// none (an account's unreserved pool is far bigger than one machine).
func (f Function) Concurrency(unreservedCap int) int {
	if f.ReservedConcurrency >= 0 {
		return f.ReservedConcurrency
	}
	return unreservedCap
}

type reader struct {
	plan     *plan.Plan
	problems []string
}

func (r *reader) problem(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func (r *reader) find(typ, name string) (plan.Resource, bool) {
	res, ok := r.plan.Find(typ, name)
	if !ok {
		r.problem("no %s named %q in the plan (the local run finds resources by these fixed logical names)", typ, name)
	}
	return res, ok
}

func (r *reader) output(name string) string {
	s := r.optionalOutput(name)
	if s == "" {
		r.problem("stack output %s is missing or not a string", name)
	}
	return s
}

func (r *reader) optionalOutput(name string) string {
	s, _ := r.plan.Outputs[name].(string)
	return s
}

// inputs reads nested Pulumi inputs by dotted path.
type inputs map[string]any

func (in inputs) get(dotted string) any {
	var cur any = map[string]any(in)
	for _, key := range strings.Split(dotted, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[key]
	}
	return cur
}

func (in inputs) str(dotted, def string) string {
	if s, ok := in.get(dotted).(string); ok && s != "" {
		return s
	}
	return def
}

func (in inputs) integer(dotted string, def int) int {
	switch v := in.get(dotted).(type) {
	case float64:
		return int(v)
	case int:
		return v
	}
	return def
}

func (in inputs) boolean(dotted string, def bool) bool {
	if b, ok := in.get(dotted).(bool); ok {
		return b
	}
	return def
}

func (in inputs) list(dotted string) []any {
	l, _ := in.get(dotted).([]any)
	return l
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func arnRegionAccount(resourceARN string) (region, account string) {
	a, err := arn.Parse(resourceARN)
	if err != nil {
		return "", ""
	}
	return a.Region, a.AccountID
}

// lastSegment is a function name from a name or an ARN.
func lastSegment(nameOrARN string) string {
	if i := strings.LastIndexByte(nameOrARN, ':'); i >= 0 {
		return nameOrARN[i+1:]
	}
	return nameOrARN
}

// Summary lists the deployment for the start-up banner, one line each.
func (d *Deployment) Summary() []string {
	lines := []string{
		fmt.Sprintf("stream     %s: %s, %d shard(s)%s", d.Stream.Name, d.Stream.Mode, d.Stream.Shards, onDemandNote(d.Stream.Mode)),
		fmt.Sprintf("table      %s: hash key %s, TTL %s", d.Table.Name, d.Table.HashKey, orNone(d.Table.TTLAttribute)),
	}
	for _, q := range d.Queues {
		lines = append(lines, fmt.Sprintf("queue      %s (%s)", q.Name, q.Logical))
	}
	for _, f := range []Function{d.Ingest, d.Processor} {
		lines = append(lines, fmt.Sprintf("function   %s: %d MB, timeout %s, reserved concurrency %s, log %s/%s",
			f.Name, f.MemoryMB, f.Timeout, concurrencyText(f.ReservedConcurrency), f.LogFormat, orNone(f.LogLevel)))
	}
	m := d.Mapping
	lines = append(lines, fmt.Sprintf("mapping    batch %d, window %s, parallelization %d, %s, retries %d, record age %s, bisect %v, enabled %v, on failure -> %s",
		m.BatchSize, m.MaximumBatchingWindow, m.ParallelizationFactor, m.StartingPosition, m.MaximumRetryAttempts, ageText(m.MaximumRecordAge), m.BisectBatchOnFunctionError, m.Enabled, orNone(m.OnFailure)))
	return lines
}

func onDemandNote(mode string) string {
	if mode == "ON_DEMAND" {
		return " (ON_DEMAND: AWS manages shards; kinesalite gets 4, what a new on-demand stream starts with)"
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func concurrencyText(n int) string {
	if n < 0 {
		return "unreserved"
	}
	return fmt.Sprint(n)
}

func ageText(d time.Duration) string {
	if d < 0 {
		return "unlimited"
	}
	return d.String()
}
