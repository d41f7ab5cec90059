package capacity

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/infra/stackconfig"
	"github.com/streamfn/streamfn/internal/aws/lambdaquota"
)

// Setting is one stack key the planner chose, with its reasoning.
type Setting struct {
	Key    string // "streamfn:shardCount"
	Value  any    // int, string or bool, as the stack file holds it
	Reason string
}

// Sizing is the planner's answer for a load.
type Sizing struct {
	Load       Load
	Settings   []Setting
	Config     *config.Config // the settings as infra/config loaded and validated them
	Estimate   Estimate
	Bill       Bill
	Comparison Comparison
	Warnings   []Warning
}

// Headroom over the measured need: partition keys never spread perfectly and bursts come.
const (
	shardHeadroom = 1.6
	// A lane should be busy at most half the time at the peak.
	targetLaneUtilization = 0.5
	// The most shards the planner proposes: infra/config's bound for a stream.
	maxPlannedShards = 10000
)

// Size turns a load into stack settings, validates them with infra/config over the project's
// Pulumi.yaml defaults (projectDir), and prices them.
func Size(l Load, projectDir string, prices *Prices) (*Sizing, error) {
	if err := l.Check(); err != nil {
		return nil, err
	}
	l = l.Normalized()
	s := &Sizing{Load: l}
	set := func(key string, value any, format string, args ...any) {
		s.Settings = append(s.Settings, Setting{Key: config.Key(key), Value: value, Reason: fmt.Sprintf(format, args...)})
	}
	need := shardsFor(l.PeakRate, l.EventBytes)
	mbps := l.PeakRate * float64(l.EventBytes) / 1e6

	// Mapping knobs first: they depend on the lanes, which depend on the shards.
	window := min(300, int(l.Latency/time.Second)/2)
	shards := max(1, int(math.Ceil(need*shardHeadroom-1e-9)))
	cfg, err := s.trial(projectDir, l, shards, 1, 100, window)
	if err != nil {
		return nil, err
	}
	// The parallelization factor from the processing rate: the least that keeps each lane at
	// most half busy at the peak; past 10, more shards.
	var pf, batch int
	for {
		for pf = 1; pf <= 10; pf++ {
			batch = batchFor(l, shards*pf, window)
			if cfg, err = s.trial(projectDir, l, shards, pf, batch, window); err != nil {
				return nil, err
			}
			if peakEstimate(cfg, l).LaneUtilization <= targetLaneUtilization {
				break
			}
		}
		if pf <= 10 {
			break
		}
		// More shards only help while they split the users further.
		if shards*10 >= l.Users || shards >= maxPlannedShards {
			p := peakEstimate(cfg, l)
			return nil, fmt.Errorf("impossible load: %d shards x parallelization 10 still leave each lane busy %.0f%% of the time (batches of %.0f records take %.0f ms at -records-per-s %g); a lane holds whole users, so more shards cannot help. Raise -records-per-s (measure it with make bench) or describe more -users",
				shards, 100*p.LaneUtilization, p.BatchRecords, p.ProcessorDurationMs, l.RecordsPerS)
		}
		shards = min(maxPlannedShards, int(math.Ceil(float64(shards)*1.25)))
	}
	peak := peakEstimate(cfg, l)

	// Stream mode: PROVISIONED sized for the peak, or ON_DEMAND billed for the mean.
	provisioned := Cost(cfg, l, prices)
	onDemandCfg := *cfg
	onDemandCfg.StreamMode, onDemandCfg.ShardCount = config.StreamModeOnDemand, 0
	onDemand := Cost(&onDemandCfg, l, prices)
	kinesisUSD := func(b Bill) float64 {
		t := 0.0
		for _, it := range b.Items {
			if it.Service == "kinesis" {
				t += it.USD
			}
		}
		return t
	}
	pUSD, oUSD := kinesisUSD(provisioned), kinesisUSD(onDemand)
	spiky := l.PeakRate >= 4*l.Rate
	mode := config.StreamModeProvisioned
	why := fmt.Sprintf("PROVISIONED: its stream costs $%.2f a month against ON_DEMAND's $%.2f for this steady load", pUSD, oUSD)
	switch {
	case oUSD < pUSD:
		mode, why = config.StreamModeOnDemand, fmt.Sprintf("ON_DEMAND: it costs $%.2f a month against $%.2f for %d provisioned shards", oUSD, pUSD, shards)
	case spiky:
		mode, why = config.StreamModeOnDemand, fmt.Sprintf("ON_DEMAND: the load is spiky (peak %.0f = %.1f x the mean %.0f events/s), and shards sized for the peak sit idle most of the month; it costs $%.2f against $%.2f provisioned, for no arithmetic and no resharding",
			l.PeakRate, l.PeakRate/l.Rate, l.Rate, oUSD, pUSD)
	}
	if mode == config.StreamModeOnDemand {
		peak = peakEstimate(&onDemandCfg, l)
	}
	s.Settings = nil // the trials' settings; the final ones follow, with their reasons
	set("streamMode", mode, "%s.", why)
	if mode == config.StreamModeProvisioned {
		set("shardCount", shards, "Writes at the peak: %.0f events/s x %d bytes = %.2f MB/s and %.0f records/s. A shard takes 1 MiB/s or 1,000 records/s of writes, so the floor is %.2f shards; x%.1f headroom for uneven partition keys and bursts = %d.",
			l.PeakRate, l.EventBytes, mbps, l.PeakRate, need, shardHeadroom, shards)
	} else {
		set("shardCount", 0, "Unset with ON_DEMAND: AWS keeps write capacity at twice the last 30 days' peak (about %d shards for %.2f MB/s and %.0f records/s).",
			max(config.OnDemandInitialShards, int(math.Ceil(2*need))), mbps, l.PeakRate)
	}
	set("retentionHours", 24, "The 24 h included in the shard price; each hour more costs extended retention (about $%.0f a month per shard up to 7 days). Raise it to replay after longer outages.",
		prices.get("kinesis/extended-retention-shard-hour").USD*hoursPerMonth)

	set("parallelizationFactor", pf, "Processing: a batch of %.0f records with %.0f users takes about %.0f ms (CPU at %.0f records/s per vCPU from make bench, one BatchGetItem per 100 users, %d writes at once). At the peak each of %d shards x %d lanes gets %.0f records/s and is busy %.0f%% of the time, at most %.0f%% wanted.",
		peak.BatchRecords, peak.UsersPerBatch, peak.ProcessorDurationMs, l.RecordsPerS, writeConcurrency, peak.Shards, pf, peak.LaneRecordsPerS, 100*peak.LaneUtilization, 100*targetLaneUtilization)
	payloadCap := lambdaquota.SyncInvocationPayloadBytes / recordBytes(l.MaxEventBytes)
	set("batchSize", batch, "Each lane gets %.0f records/s at the peak; a %d s window collects %.0f, x%.1f headroom, rounded up to 100 = %d (at most %d so that %d of the largest %d-byte events stay within Lambda's invocation payload of %d bytes).",
		peak.LaneRecordsPerS, max(window, 1), peak.LaneRecordsPerS*float64(max(window, 1)), shardHeadroom, batch, payloadCap, batch, l.MaxEventBytes, lambdaquota.SyncInvocationPayloadBytes)
	set("batchWindowSeconds", window, "Half the %s latency target: a record waits at most the window before its batch starts, then the batch's %.0f ms.", l.Latency, peak.ProcessorDurationMs)
	set("startingPosition", config.StartingPositionTrimHorizon, "A new mapping reads the stream from its oldest record: nothing written before the mapping existed is skipped.")
	set("maxRetryAttempts", 5, "Bounded failure handling: a failing batch is bisected and retried up to 5 times, then goes to the failures bucket.")
	set("maxRecordAgeSeconds", 21600, "Records older than 6 h go to the failures bucket; a poison record never stalls a shard for long.")
	set("bisectOnError", true, "Split a failing batch to isolate the record that fails.")

	lanes := peak.Shards * pf
	spare := max(2, lanes/2)
	set("processorMemoryMb", cfg.ProcessorMemoryMB, "%d MB is %.2f vCPU (1,769 MB = 1 vCPU): decoding a %.0f-record batch takes about %.1f ms of it, and the rest of the batch's time waits on DynamoDB.",
		cfg.ProcessorMemoryMB, float64(cfg.ProcessorMemoryMB)/mbPerVCPU, peak.BatchRecords, peak.BatchRecords/(l.RecordsPerS*min(1, float64(cfg.ProcessorMemoryMB)/mbPerVCPU))*1000)
	set("processorTimeoutSeconds", 60, "A batch should take well under a second; 60 s bounds a stuck DynamoDB call.")
	set("processorConcurrency", lanes+spare, "Reserved: shards x parallelizationFactor = %d x %d = %d concurrent batches, + %d spare for bisected retries and reshards. It also keeps the processor from taking ingest's executions.",
		peak.Shards, pf, lanes, spare)

	ingestConc := max(10, int(math.Ceil(2*peak.IngestConcurrencyMean-1e-9)))
	provisionedConc := 0
	provisionedWhy := fmt.Sprintf("None: %.1f requests in flight on average is too few for environments billed while idle to pay off; the first requests after a quiet spell see a cold start.", peak.IngestConcurrencyMean)
	if peak.IngestConcurrencyMean >= 5 {
		provisionedConc = int(math.Ceil(0.2*peak.IngestConcurrencyMean - 1e-9))
		provisionedWhy = fmt.Sprintf("20%% of the %.0f environments in use keep bursts after quiet periods off cold starts.", peak.IngestConcurrencyMean)
	}
	set("ingestMemoryMb", cfg.IngestMemoryMB, "A request validates %d event(s) and makes one PutRecords call; %d MB keeps its CPU time small.", l.Batch, cfg.IngestMemoryMB)
	set("ingestTimeoutSeconds", 10, "Bounds a request stuck on the stream; clients retry after it.")
	set("ingestConcurrency", ingestConc, "Little's law: %.0f requests/s (%.0f events/s at the peak / %d per request) x %.0f ms = %.1f in flight; x2 headroom = %d (at least 10).",
		peak.IngestRequestsPerS, l.PeakRate, l.Batch, peak.IngestDurationMs, peak.IngestConcurrencyMean, ingestConc)
	set("ingestProvisionedConcurrency", provisionedConc, "%s", provisionedWhy)
	set("architecture", l.Arch, "GB-seconds cost %.0f%% less on arm64.", 100*(1-prices.get("lambda/gb-second-arm64").USD/prices.get("lambda/gb-second-x86_64").USD))
	iterAlarm := min(10800, max(60, int(30*l.Latency/time.Second)))
	set("iteratorAgeAlarmSeconds", iterAlarm, "Batches normally run a window behind; %d s behind means the processor is not keeping up, long before records age out at 6 h.", iterAlarm)
	set("protectData", true, "The stream, table and failures bucket survive a mistaken pulumi destroy (README, \"Destroying a protected stack\").")

	if s.Config, err = s.validate(projectDir, l); err != nil {
		return nil, err
	}
	s.Estimate = EstimateFor(s.Config, l)
	s.Bill = Cost(s.Config, l, prices)
	s.Comparison = Compare(s.Config, l, prices, s.Bill)
	s.Warnings = Check(s.Config, l)
	return s, nil
}

// peakEstimate is the estimate at the load's peak rate.
func peakEstimate(cfg *config.Config, l Load) Estimate {
	p := l
	p.Rate = l.PeakRate
	return EstimateFor(cfg, p)
}

// batchFor is the batch size that a lane fills in the window at the peak, with headroom,
// rounded up to 100 and within Lambda's invocation payload for the largest events.
func batchFor(l Load, lanes, window int) int {
	laneRate := l.PeakRate / float64(max(1, min(lanes, l.Users)))
	n := int(math.Ceil(laneRate*float64(max(window, 1))*shardHeadroom/100-1e-9)) * 100
	return max(1, min(n, 10000, lambdaquota.SyncInvocationPayloadBytes/recordBytes(l.MaxEventBytes)))
}

// trial sets the knobs the estimate depends on and validates them, for the search above.
func (s *Sizing) trial(projectDir string, l Load, shards, pf, batch, window int) (*config.Config, error) {
	s.Settings = nil
	laneRate := l.PeakRate / float64(max(1, shards*pf))
	processorMB := 512
	if laneRate >= 100 {
		processorMB = 1024
	}
	ingestMB := 256
	if l.PeakRate/float64(l.Batch) >= 100 {
		ingestMB = 512
	}
	for key, v := range map[string]any{"streamMode": config.StreamModeProvisioned, "shardCount": shards, "parallelizationFactor": pf,
		"batchSize": batch, "batchWindowSeconds": window, "processorMemoryMb": processorMB, "ingestMemoryMb": ingestMB,
		"processorConcurrency": config.Unreserved, "architecture": l.Arch} {
		s.Settings = append(s.Settings, Setting{Key: config.Key(key), Value: v})
	}
	return s.validate(projectDir, l)
}

// validate loads the settings as the program would: written as a stack file next to a copy of
// the project's Pulumi.yaml, merged by infra/stackconfig and checked by infra/config.
func (s *Sizing) validate(projectDir string, l Load) (*config.Config, error) {
	dir, err := os.MkdirTemp("", "streamfn-size-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	project, err := os.ReadFile(filepath.Join(projectDir, stackconfig.ProjectFile))
	if err != nil {
		return nil, fmt.Errorf("reading the project's defaults: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, stackconfig.ProjectFile), project, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.size.yaml"), []byte(s.StackFile("size", l.Region)), 0o644); err != nil {
		return nil, err
	}
	values, err := stackconfig.Load(dir, "size")
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(func(key string) (string, bool) { v, ok := values[key]; return v, ok })
	if err != nil {
		var invalid *config.ValidationError
		if errors.As(err, &invalid) {
			return nil, fmt.Errorf("the planned settings fail the program's validation (a planner bug; please report it with the load):\n%w", err)
		}
		return nil, err
	}
	return cfg, nil
}

// StackFile renders the settings as Pulumi.<stack>.yaml, each value under its reasoning.
func (s *Sizing) StackFile(stack, region string) string {
	var b strings.Builder
	l := s.Load
	fmt.Fprintf(&b, "# %s: sized by go run ./scripts/size for %.0f events/s (peak %.0f) of %d bytes (largest %d),\n", stack, l.Rate, l.PeakRate, l.EventBytes, l.MaxEventBytes)
	fmt.Fprintf(&b, "# %d users (heaviest %.2f%% of events), %s latency target, %d events per ingest request.\n", l.Users, 100*l.HotUserShare, l.Latency, l.Batch)
	b.WriteString("# Keys not listed take Pulumi.yaml's defaults.\nconfig:\n")
	fmt.Fprintf(&b, "  %s: %s\n", config.RegionKey, region)
	for _, st := range s.Settings {
		if st.Reason != "" {
			b.WriteString("\n")
			for _, line := range wrap(st.Reason, 92) {
				fmt.Fprintf(&b, "  # %s\n", line)
			}
		}
		fmt.Fprintf(&b, "  %s: %s\n", st.Key, yamlValue(st.Value))
	}
	return b.String()
}

func yamlValue(v any) string {
	switch x := v.(type) {
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	default:
		return fmt.Sprint(x)
	}
}

func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = w
			continue
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}

// ConfigValues is the settings as the -json document's "config": key to value.
func (s *Sizing) ConfigValues() map[string]any {
	m := map[string]any{config.RegionKey: s.Load.Region}
	for _, st := range s.Settings {
		m[st.Key] = st.Value
	}
	return m
}
