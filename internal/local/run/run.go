// Package run is the local run (`make local`, `go run ./scripts/local`):
// the whole pipeline of one stack on this machine. It derives the
// deployment from the Pulumi program under mocks (infra/plan), starts
// kinesalite, dynalite and fauxqs, creates the stream, table and queues,
// runs both functions under aws-lambda-rie, serves ingest's Function URL,
// emulates the Kinesis event-source mapping, and on request generates load,
// injects chaos and verifies the result.
package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/streamfn/streamfn/infra/plan"
	"github.com/streamfn/streamfn/internal/failure"
	"github.com/streamfn/streamfn/internal/local/deploy"
	"github.com/streamfn/streamfn/internal/local/endpoints"
	"github.com/streamfn/streamfn/internal/local/esm"
	"github.com/streamfn/streamfn/internal/local/funcurl"
	"github.com/streamfn/streamfn/internal/local/lambdaapi"
	"github.com/streamfn/streamfn/internal/local/lambdaenv"
	"github.com/streamfn/streamfn/internal/local/loadgen"
	"github.com/streamfn/streamfn/internal/local/outage"
	"github.com/streamfn/streamfn/internal/local/progress"
	"github.com/streamfn/streamfn/internal/local/report"
	"github.com/streamfn/streamfn/internal/local/verify"
	"github.com/streamfn/streamfn/internal/processor"
	"github.com/streamfn/streamfn/internal/redrive"
)

// Options are the command's flags.
type Options struct {
	Root     string // the repository root
	Stack    string
	Rate     float64 // events/s; 0: no load (try it with curl)
	Duration time.Duration
	Users    int
	Bad      float64
	Dup      float64
	// PartitionKeys and LateDup shape the producers: see loadgen.Options.
	PartitionKeys string
	LateDup       time.Duration
	Batch         int // events per request
	Clients       int // requests in flight at once
	Seed          int64
	Verify        bool
	Chaos         float64
	JSON          bool
	// ReportFile, when set, receives the JSON report as well.
	ReportFile string
	// Name labels the verdict line that ends a run with -verify.
	Name string
	Port int // the Function URL's port; 0: a free one
	// IngestCap is the environments an unreserved ingest gets.
	IngestCap int
	// Outage makes the table refuse the processor's writes for this long
	// after the load starts, as in a DynamoDB outage.
	Outage time.Duration
	// Redrive replays every on-failure record after draining, with the
	// redrive tool's replay, before verifying.
	Redrive bool
	// Published, when set, is called with the endpoints file's path once
	// the pipeline runs (a test drives tools against the run with it).
	Published func(endpointsFile string)
	// NoShardLimits lets kinesalite take any rate, instead of Kinesis's
	// per-shard write and read limits.
	NoShardLimits bool

	Stdout, Stderr io.Writer
}

// ErrVerifyFailed is returned when -verify found differences.
var ErrVerifyFailed = errors.New("verify found differences")

// Run runs the pipeline until the duration ends or ctx is cancelled
// (Ctrl-C), stops every process it started, and writes the report.
func Run(ctx context.Context, opts Options) (err error) {
	if err := lambdaenv.CheckPlatform(); err != nil {
		return err // before anything starts
	}
	start := time.Now()
	var progressOut io.Writer = opts.Stdout
	if opts.JSON {
		progressOut = opts.Stderr
	}
	// One lock for everything written there: a preparation step left to
	// finish after a Ctrl-C may still print while Run says it stopped. The
	// live view gets the file itself, to tell a terminal (writes to a file
	// are safe from any goroutine).
	monitorOut := progressOut
	progressOut = &lockedWriter{w: progressOut}
	if _, isFile := monitorOut.(*os.File); !isFile {
		monitorOut = progressOut
	}
	// Ctrl-C before the pipeline is ready is a stop, not a failure: the
	// error is the cancelled step's.
	ready := false
	defer func() {
		if err != nil && !ready && ctx.Err() != nil {
			fmt.Fprintf(progressOut, "interrupted while preparing: stopped (%s)\n", time.Since(start).Truncate(100*time.Millisecond))
			err = nil
		}
	}()
	say := func(format string, args ...any) { fmt.Fprintf(progressOut, format+"\n", args...) }

	runDir := filepath.Join(opts.Root, ".build", "local", fmt.Sprintf("%s-%d", start.UTC().Format("20060102T150405Z"), os.Getpid()))
	logsDir := filepath.Join(runDir, "logs")
	if err := os.MkdirAll(logsDir, 0o755); err != nil {
		return err
	}
	setupLog, err := os.Create(filepath.Join(logsDir, "setup.log"))
	if err != nil {
		return err
	}
	defer setupLog.Close()

	if err := pruneRuns(filepath.Dir(runDir), keepRuns); err != nil {
		say("pruning old run folders: %v", err)
	}

	// 1. Install and build: npm packages, then aws-lambda-rie, both
	// functions and the plan, all at once. Each step says when it starts
	// and ends; a first run downloads and compiles for minutes.
	steps := &stepPrinter{out: progressOut, log: setupLog}
	say("preparing (details in %s):", displayPath(opts.Root, setupLog.Name()))
	if err := steps.run("npm packages (npm ci: kinesalite, dynalite, fauxqs)", func() error { return ensureNodeModules(ctx, opts.Root, setupLog) }); err != nil {
		return err
	}
	// Binaries go into the run's own folder: another run in the same
	// checkout (a test, a second terminal) may rebuild the functions from
	// other sources meanwhile, and an environment that cold-starts must run
	// the code this run started with. Go's build cache keeps this cheap.
	binDir := filepath.Join(runDir, "bin")
	// Only the logs and the chart are worth keeping; deferred first, so it
	// runs after every process using the binaries has stopped.
	defer os.RemoveAll(binDir)
	var (
		rie, supervisor, ingestBin, processorBin string
		p                                        *plan.Plan
		errs                                     [5]error
	)
	prepared := make(chan struct{})
	go func() {
		defer close(prepared)
		var wg sync.WaitGroup
		wg.Go(func() {
			errs[0] = steps.run("aws-lambda-rie (go build)", func() (err error) { rie, err = lambdaenv.BuildRIE(ctx, opts.Root, binDir); return err })
		})
		wg.Go(func() {
			errs[4] = steps.run("environment supervisor (go build)", func() (err error) {
				supervisor, err = lambdaenv.BuildSupervisor(ctx, opts.Root, binDir)
				return err
			})
		})
		wg.Go(func() {
			errs[1] = steps.run("function ingest (go build)", func() (err error) {
				ingestBin, err = lambdaenv.BuildFunction(ctx, opts.Root, binDir, deploy.IngestName)
				return err
			})
		})
		wg.Go(func() {
			errs[2] = steps.run("function processor (go build)", func() (err error) {
				processorBin, err = lambdaenv.BuildFunction(ctx, opts.Root, binDir, deploy.ProcessorName)
				return err
			})
		})
		wg.Go(func() {
			errs[3] = steps.run("plan of stack "+opts.Stack+" (the Pulumi program under mocks)", func() (err error) {
				p, err = plan.Run(plan.Options{Dir: opts.Root, Stack: opts.Stack})
				return err
			})
		})
		wg.Wait()
	}()
	select {
	case <-prepared:
	case <-ctx.Done():
		// The builds end with ctx; the plan cannot be cancelled and is
		// left to finish on its own: nothing of it is started.
		return ctx.Err()
	}
	if err := errors.Join(errs[:]...); err != nil {
		return err
	}
	d, err := deploy.From(p)
	if err != nil {
		return err
	}

	// 2. The AWS stand-ins and the resources.
	var set *emulatorSet
	if err := steps.run("AWS stand-ins (Node.js)", func() (err error) { set, err = startEmulators(d.Stream.Shards, !opts.NoShardLimits); return err }); err != nil {
		return err
	}
	defer set.stop()
	var tableOutage *outage.Proxy
	if opts.Outage > 0 {
		if tableOutage, err = outage.Start(set.dynamodb.Endpoint); err != nil {
			return err
		}
		defer tableOutage.Close()
		set.tableEndpoint = tableOutage.Endpoint()
	}
	c := newClients(d.Region, set)
	var localURLs map[string]string
	if err := steps.run("stream, table and queues", func() (err error) { localURLs, err = createResources(ctx, d, c); return err }); err != nil {
		return err
	}

	// 3. The functions.
	lanes := d.Stream.Shards * d.Mapping.ParallelizationFactor
	ingestPool, err := newPool(d.Ingest, d.Ingest.Concurrency(opts.IngestCap), rie, supervisor, ingestBin, logsDir, d.Region, localURLs, set, opts, 1)
	if err != nil {
		return err
	}
	defer ingestPool.Close()
	processorPool, err := newPool(d.Processor, d.Processor.Concurrency(lanes), rie, supervisor, processorBin, logsDir, d.Region, localURLs, set, opts, 2)
	if err != nil {
		return err
	}
	defer processorPool.Close()

	// 4. The Function URL.
	listener, err := listen(opts.Port)
	if err != nil {
		return err
	}
	ingestURL := "http://" + listener.Addr().String() + "/"
	traffic := &progress.Traffic{} // every request, the load's and curl's
	server := &http.Server{Handler: traffic.Wrap(funcurl.NewHandler(funcurl.Options{
		AccountID: d.AccountID, Region: d.Region, URLID: urlID(d.URL.URL), AuthType: d.URL.AuthType,
	}, ingestPool)), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = server.Serve(listener) }()
	defer server.Close()

	// The Lambda Invoke API of both functions, for the SDK's lambda client
	// (the redrive tool) through AWS_ENDPOINT_URL_LAMBDA.
	lambdaListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("serving the Lambda API: %w", err)
	}
	lambdaURL := "http://" + lambdaListener.Addr().String()
	lambdaServer := &http.Server{Handler: lambdaapi.NewHandler(
		lambdaapi.Function{Name: d.Ingest.Name, ARN: d.Ingest.ARN, Role: d.Ingest.RoleARN, Timeout: d.Ingest.Timeout, MemoryMB: d.Ingest.MemoryMB, Environment: d.Ingest.Environment, Invoker: ingestPool},
		lambdaapi.Function{Name: d.Processor.Name, ARN: d.Processor.ARN, Role: d.Processor.RoleARN, Timeout: d.Processor.Timeout, MemoryMB: d.Processor.MemoryMB, Environment: d.Processor.Environment, Invoker: processorPool},
	), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = lambdaServer.Serve(lambdaListener) }()
	defer lambdaServer.Close()

	// 5. The event-source mapping.
	failuresURL := ""
	if q, ok := d.Queue(d.Mapping.OnFailure); ok {
		failuresURL = localURLs[q.URL]
	}
	poisonURL := ""
	if q, ok := d.Queue(deploy.PoisonName); ok {
		poisonURL = localURLs[q.URL]
	}
	var mapping *esm.Mapping
	mappingCtx, stopMapping := context.WithCancel(context.Background())
	mappingDone := make(chan error, 1)
	if d.Mapping.Enabled {
		cfg := mappingConfig(d, c, failuresURL)
		if d.Mapping.OnFailureType == deploy.TypeBucket {
			cfg.Destination = bucketDestination(c.s3, d.FailureBucket.Name, d.MappingUUID())
		}
		mapping, err = esm.New(cfg, c.kinesis, processorPool)
		if err != nil {
			stopMapping()
			return err
		}
		go func() { mappingDone <- mapping.Run(mappingCtx) }()
		select {
		case <-mapping.Ready():
		case err := <-mappingDone:
			stopMapping()
			return err
		}
	} else {
		mappingDone <- nil
	}
	stopMappingAndWait := sync.OnceValue(func() error {
		stopMapping()
		return <-mappingDone
	})
	defer stopMappingAndWait()

	endpointsPath, err := publishEndpoints(opts, runDir, p, d, set, localURLs, ingestURL, lambdaURL)
	if err != nil {
		return err
	}
	defer endpoints.Withdraw(endpointsPath)
	if opts.Published != nil {
		opts.Published(endpointsPath)
	}

	ready = true
	banner(progressOut, d, ingestURL, logsDir, endpointsPath, opts, lanes)

	// 6. Load, live progress, drain.
	ledger := loadgen.NewLedger()
	var gen *loadgen.Generator
	if opts.Rate > 0 {
		gen, err = loadgen.New(loadgen.Options{
			URL: ingestURL, Rate: opts.Rate, Duration: opts.Duration, Users: opts.Users, Bad: opts.Bad, Dup: opts.Dup,
			EventsPerRequest: opts.Batch, Clients: opts.Clients, Seed: opts.Seed,
			StreamName: d.Stream.Name, Kinesis: c.kinesis, PartitionKeys: opts.PartitionKeys, LateDup: opts.LateDup,
		}, ledger)
		if err != nil {
			return err
		}
	}
	mon := newMonitor(monitorOut, mapping, ingestPool, processorPool, gen, traffic, c.sqs, poisonURL, failuresURL)
	if !opts.NoShardLimits {
		mon.kinesis = set.kinesis
	}
	monCtx, stopMonitor := context.WithCancel(context.Background())
	monDone := make(chan struct{})
	go func() { mon.run(monCtx); close(monDone) }()
	stopMonitorAndWait := sync.OnceFunc(func() { stopMonitor(); <-monDone })
	defer stopMonitorAndWait()

	loadStart := time.Now()
	if tableOutage != nil {
		tableOutage.Set(loadStart, opts.Outage)
	}
	if gen != nil {
		mon.setPhase(fmt.Sprintf("load: %.0f events/s for %s", opts.Rate, durationText(opts.Duration)))
		if err := gen.Run(ctx); err != nil && ctx.Err() == nil {
			return err
		}
	} else {
		mon.setPhase("waiting for requests (Ctrl-C to stop)")
		wait := ctx.Done()
		if opts.Duration > 0 {
			timer := time.NewTimer(opts.Duration)
			defer timer.Stop()
			select {
			case <-wait:
			case <-timer.C:
			}
		} else {
			<-wait
		}
	}
	loadEnd := time.Now()
	interrupted := ctx.Err() != nil

	var verdict *verify.Result
	drainedAt := loadEnd
	if !interrupted && mapping != nil && (opts.Verify || opts.Duration > 0) {
		mon.setPhase("draining: waiting for every shard to be read and processed")
		if err := drain(ctx, mapping, loadEnd, d.Processor.Timeout); err != nil && ctx.Err() == nil {
			say("%v", err)
		}
		drainedAt = time.Now()
		interrupted = ctx.Err() != nil // Ctrl-C while draining
	}
	tool := &redrive.Tool{
		Target: redrive.Target{
			Stack: opts.Stack, Source: "the local run", Bucket: d.FailureBucket.Name, FailuresQueueURL: failuresURL,
			PoisonQueueURL: poisonURL, StreamName: d.Stream.Name, StreamARN: d.Stream.ARN, Processor: d.Processor.Name,
		},
		S3: c.s3, SQS: c.sqs, Kinesis: c.kinesis, Lambda: newLambdaClient(d.Region, lambdaURL),
	}
	if tool.Target.Bucket != "" {
		tool.Target.FailuresQueueURL = "" // the mapping's destination is the bucket
	}
	var replayed *redrive.ReplayReport
	if opts.Redrive && !interrupted && mapping != nil {
		mon.setPhase("redrive: replaying every on-failure record")
		rep, err := tool.Replay(ctx, redrive.ReplayOptions{})
		switch {
		case err != nil && ctx.Err() != nil:
			interrupted = true
		case err != nil:
			return fmt.Errorf("redrive: %w", err)
		default:
			replayed = rep
		}
	}
	if opts.Verify && !interrupted {
		mon.setPhase("verifying")
		in := verify.Input{
			Ledger: ledger, DynamoDB: c.dynamodb, Table: d.Table.Name, TTLAttribute: d.Table.TTLAttribute,
			CheckTTL: d.Table.TTLAttribute != "" && ttlDays(d.Processor) > 0,
			SQS:      c.sqs, PoisonQueueURL: poisonURL,
			ReadRange: tool.ReadRange,
			// After a redrive, verify is exact, as if there had been no
			// outage: any on-failure record left is a difference.
			ExpectFailures: opts.Outage > 0 && !opts.Redrive,
		}
		if tool.Target.Bucket != "" || tool.Target.FailuresQueueURL != "" {
			in.Failures = func(ctx context.Context) ([]failure.Document, error) {
				found, problems, err := tool.Find(ctx, 0, false)
				if err != nil {
					return nil, err
				}
				if len(problems) > 0 {
					return nil, fmt.Errorf("unreadable on-failure records: %s", strings.Join(problems, "; "))
				}
				docs := make([]failure.Document, len(found))
				for i, f := range found {
					docs[i] = f.Doc
				}
				return docs, nil
			}
		}
		res, err := verify.Run(ctx, in)
		switch {
		case err != nil && ctx.Err() != nil: // Ctrl-C while verifying: a stop, not a failure
			interrupted = true
		case err != nil:
			return fmt.Errorf("verify: %w", err)
		default:
			verdict = &res
		}
	}
	stopMonitorAndWait()
	mon.final()

	// 7. Stop everything, then report.
	_ = stopMappingAndWait()
	server.Close()
	ingestPool.Close()
	processorPool.Close()
	poison, failures := mon.queueCounts()
	throttles := mon.throttles()
	_ = endpoints.Withdraw(endpointsPath) // before the stand-ins it names go
	set.stop()

	sum := &report.Summary{
		Redrive: replayed,
		Stack:   opts.Stack,
		Settings: map[string]any{
			"rate": opts.Rate, "duration": opts.Duration.String(), "users": opts.Users, "bad": opts.Bad, "dup": opts.Dup,
			"pk": opts.PartitionKeys, "lateDup": opts.LateDup.String(),
			"batch": opts.Batch, "clients": opts.Clients, "seed": opts.Seed, "chaos": opts.Chaos, "verify": opts.Verify,
			"outage": opts.Outage.String(), "redrive": opts.Redrive,
		},
		LoadFor:   loadEnd.Sub(loadStart).Seconds(),
		RanFor:    time.Since(start).Seconds(),
		Traffic:   traffic.Stats(),
		Ingest:    ingestPool.Stats(),
		Processor: processorPool.Stats(),
		Poison:    poison,
		Failures:  failures,
		Verify:    verdict,
		Kinesis:   throttles,
		LogsDir:   logsDir,
		Series:    mon.series(),
	}
	if gen != nil {
		sum.Load = gen.Stats()
	}
	if tableOutage != nil {
		sum.Outage = &report.Outage{Seconds: opts.Outage.Seconds(), WritesRefused: tableOutage.Refused()}
	}
	if mapping != nil {
		sum.Mapping = mapping.Stats()
		sum.IteratorAge = report.IteratorAges(mon.samples())
	}
	if secs := sum.LoadFor; secs > 0 {
		sum.AcceptedPerS = float64(sum.Load.Accepted) / secs
	}
	// Processing ends when the mapping drained, which may be well after
	// the load stopped: that is the rate the pipeline sustained.
	sum.ProcessedFor = drainedAt.Sub(loadStart).Seconds()
	if secs := sum.ProcessedFor; secs > 0 {
		sum.ProcessedPerS = float64(sum.Mapping.RecordsSucceeded) / secs
	}
	for _, pt := range sum.Series {
		sum.PeakPerS = max(sum.PeakPerS, pt.Processed)
	}
	if w, err := report.ProcessorWrites(filepath.Join(logsDir, d.Processor.Logical+".log")); err == nil {
		sum.Writes = w
		if secs := sum.ProcessedFor; secs > 0 {
			sum.Writes.InvocationsPerS = float64(sum.Mapping.Invocations) / secs
		}
	}
	chart := filepath.Join(runDir, "chart.html")
	title := fmt.Sprintf("streamfn local run, stack %s, %s", opts.Stack, start.UTC().Format(time.RFC3339))
	if err := os.WriteFile(chart, []byte(report.Chart(title, sum.Series)), 0o644); err == nil {
		sum.Chart = chart
	}
	if opts.JSON {
		if err := sum.JSON(opts.Stdout); err != nil {
			return err
		}
	} else {
		sum.Text(opts.Stdout)
	}
	if opts.ReportFile != "" {
		if err := sum.WriteJSONFile(opts.ReportFile); err != nil {
			return fmt.Errorf("writing the JSON report: %w", err)
		}
		fmt.Fprintf(progressOut, "  report     %s\n", displayPath(opts.Root, opts.ReportFile))
	}
	if interrupted && opts.Verify {
		fmt.Fprintln(progressOut, "interrupted: verify skipped")
	}
	name := opts.Name
	if name == "" {
		name = "local"
	}
	if line := sum.Verdict(name); line != "" {
		fmt.Fprintln(progressOut, line) // the last line
	}
	if verdict != nil && !verdict.OK {
		return ErrVerifyFailed
	}
	return nil
}

func newPool(f deploy.Function, concurrency int, rie, supervisor, bootstrap, logsDir, region string, localURLs map[string]string, set *emulatorSet, opts Options, seed uint64) (*lambdaenv.Pool, error) {
	logFile, err := os.OpenFile(filepath.Join(logsDir, f.Logical+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	// The processes hold their own copy of the descriptor.
	pool, err := lambdaenv.NewPool(lambdaenv.Spec{
		Name:        f.Name,
		Bootstrap:   bootstrap,
		RIE:         rie,
		Supervisor:  supervisor,
		Env:         functionEnv(f, region, localURLs, set),
		Timeout:     f.Timeout,
		MemoryMB:    f.MemoryMB,
		Concurrency: concurrency,
		Log:         logFile,
		Chaos:       lambdaenv.Chaos{Probability: opts.Chaos, Seed: uint64(opts.Seed)*31 + seed},
	})
	if err != nil {
		logFile.Close()
		return nil, err
	}
	return pool, nil
}

func mappingConfig(d *deploy.Deployment, c clients, failuresURL string) esm.Config {
	m := d.Mapping
	cfg := esm.Config{
		StreamName:                 d.Stream.Name,
		StreamARN:                  d.Stream.ARN,
		FunctionARN:                d.Processor.ARN,
		InvokeIdentityARN:          d.Processor.RoleARN,
		Region:                     d.Region,
		BatchSize:                  m.BatchSize,
		MaximumBatchingWindow:      m.MaximumBatchingWindow,
		ParallelizationFactor:      m.ParallelizationFactor,
		StartingPosition:           m.StartingPosition,
		StartingPositionTimestamp:  m.StartingPositionTimestamp,
		MaximumRetryAttempts:       m.MaximumRetryAttempts,
		MaximumRecordAge:           m.MaximumRecordAge,
		BisectBatchOnFunctionError: m.BisectBatchOnFunctionError,
		ReportBatchItemFailures:    m.ReportBatchItemFailures,
		TumblingWindow:             m.TumblingWindow,
	}
	if failuresURL != "" {
		cfg.Destination = func(ctx context.Context, record failure.Document) error {
			doc, err := json.Marshal(record.Metadata())
			if err != nil {
				return err
			}
			_, err = c.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(failuresURL), MessageBody: aws.String(string(doc))})
			return err
		}
	}
	return cfg
}

// drain waits until the mapping has read every shard to its end after the
// load stopped and finished every record. A function timeout can hold a
// batch for that long, twice over (a retry), so the wait allows for it.
// bucketDestination writes each on-failure record as Lambda writes it to an
// S3 destination: the whole document, payload included, under
// aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<UUID>.
func bucketDestination(client *s3.Client, bucket, mappingUUID string) func(context.Context, failure.Document) error {
	return func(ctx context.Context, record failure.Document) error {
		body, err := json.Marshal(record)
		if err != nil {
			return err
		}
		key := failure.ObjectKey(mappingUUID, record.KinesisBatchInfo.ShardID, time.Now(), uuid.New())
		_, err = client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body), ContentType: aws.String("application/json"),
		})
		return err
	}
}

func drain(ctx context.Context, mapping *esm.Mapping, since time.Time, functionTimeout time.Duration) error {
	limit := max(2*time.Minute, 3*functionTimeout+30*time.Second)
	deadline := time.Now().Add(limit)
	for !mapping.CaughtUp(since) {
		if time.Now().After(deadline) {
			return fmt.Errorf("the mapping did not drain within %s", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

func listen(port int) (net.Listener, error) {
	if port == 0 {
		return net.Listen("tcp", "127.0.0.1:0")
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("serving the Function URL on 127.0.0.1:%d: %w (choose another with -port, or -port 0 for a free one)", port, err)
	}
	return l, nil
}

// urlID is the first label of the plan's Function URL host.
func urlID(planURL string) string {
	u, err := url.Parse(planURL)
	if err != nil || u.Host == "" {
		return "local"
	}
	id, _, _ := strings.Cut(u.Host, ".")
	return id
}

func ttlDays(f deploy.Function) int {
	n, _ := strconv.Atoi(f.Environment[processor.EnvFeatureTTLDays])
	return n
}

func durationText(d time.Duration) string {
	if d == 0 {
		return "until Ctrl-C"
	}
	return d.String()
}

func banner(w io.Writer, d *deploy.Deployment, ingestURL, logsDir, endpointsPath string, opts Options, lanes int) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("")
	p("streamfn, stack %s, running locally (region %s, account %s):", d.Stack, d.Region, d.AccountID)
	for _, l := range d.Summary() {
		p("  %s", l)
	}
	p("  environments: ingest up to %d, processor up to %d (reserved concurrency, or when unreserved: ingest %d, processor shards x parallelization = %d)",
		d.Ingest.Concurrency(opts.IngestCap), d.Processor.Concurrency(lanes), opts.IngestCap, lanes)
	if !d.Mapping.Enabled {
		p("  the mapping is disabled in this stack (enabled: false): records stay in the stream")
	}
	p("")
	p("ingest Function URL: %s", ingestURL)
	if d.URL.AuthType == "AWS_IAM" {
		p("  (the stack's URL uses AWS_IAM auth; signatures cannot be checked locally, so this URL accepts unsigned requests)")
	}
	p("  try: curl -s -X POST %s -H 'Content-Type: application/json' \\", ingestURL)
	p(`        -d '{"eventId":"e-1","userId":"user-1","type":"view","productId":"sku-1","category":"shoes","price":59.9,"ts":"%s"}'`, time.Now().UTC().Format(time.RFC3339))
	p("function logs: %s", logsDir)
	p("endpoints of the AWS stand-ins (AWS_ENDPOINT_URL_*, region, dummy credentials): %s", displayPath(opts.Root, endpoints.DefaultPath(opts.Root)))
	p("  (this run's own copy: %s)", displayPath(opts.Root, endpointsPath))
	p("  try: (set -a; . %s; aws dynamodb get-item --table-name %s --key '{\"%s\":{\"S\":\"user-1\"}}')",
		displayPath(opts.Root, endpoints.DefaultPath(opts.Root)), d.Table.Name, d.Table.HashKey)
	p("  or:  make inspect   (the table's top users, the queues, per-shard iterator age)")
	if opts.NoShardLimits {
		p("shard limits: off (-shard-limits=false): kinesalite takes any rate, where Kinesis would throttle above 1 MiB/s or 1,000 records/s of writes per shard")
	} else {
		p("shard limits: on, as Kinesis applies them: per shard 1 MiB/s or 1,000 records/s of writes, 5 GetRecords calls/s and 2 MiB/s of reads")
	}
	if opts.Chaos > 0 {
		p("chaos: %.0f%% of invocations have their bootstrap killed mid-invocation, or (1 in 4, at most once per function) frozen past the function's timeout", opts.Chaos*100)
	}
	p("")
}

// lockedWriter serializes writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// stepPrinter says when each preparation step starts and ends, and how
// long it took, on the progress output and in setup.log.
type stepPrinter struct {
	mu       sync.Mutex
	out, log io.Writer
}

func (s *stepPrinter) printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := fmt.Sprintf(format, args...)
	fmt.Fprintln(s.out, line)
	fmt.Fprintf(s.log, "%s %s\n", time.Now().UTC().Format(time.RFC3339), strings.TrimSpace(line))
}

func (s *stepPrinter) run(name string, step func() error) error {
	s.printf("  start  %s", name)
	begin := time.Now()
	err := step()
	took := time.Since(begin).Round(10 * time.Millisecond)
	if err != nil {
		s.printf("  FAILED %s after %s", name, took)
		return err
	}
	s.printf("  done   %s in %s", name, took)
	return nil
}
