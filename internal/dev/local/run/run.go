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
	"cmp"
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
	"github.com/streamfn/streamfn/infra/stackconfig"
	"github.com/streamfn/streamfn/internal/aws/failure"
	"github.com/streamfn/streamfn/internal/dev/local/deploy"
	"github.com/streamfn/streamfn/internal/dev/local/esm"
	"github.com/streamfn/streamfn/internal/dev/local/funcurl"
	"github.com/streamfn/streamfn/internal/dev/local/lambdaapi"
	"github.com/streamfn/streamfn/internal/dev/local/lambdaenv"
	"github.com/streamfn/streamfn/internal/dev/local/loadgen"
	"github.com/streamfn/streamfn/internal/dev/local/outage"
	"github.com/streamfn/streamfn/internal/dev/local/progress"
	"github.com/streamfn/streamfn/internal/dev/local/report"
	"github.com/streamfn/streamfn/internal/dev/local/verify"
	"github.com/streamfn/streamfn/internal/ops/endpoints"
	"github.com/streamfn/streamfn/internal/ops/redrive"
	"github.com/streamfn/streamfn/internal/processor"
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
	// IngestCap is the environments an unreserved ingest gets (0:
	// DefaultIngestEnvironments).
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

// DefaultIngestEnvironments is IngestCap when none is given.
const DefaultIngestEnvironments = 8

// ErrVerifyFailed is returned when -verify found differences.
var ErrVerifyFailed = errors.New("verify found differences")

// ErrInterrupted is returned when a Ctrl-C stopped a run with -verify
// before verify could finish: not a pass. (Without -verify, Ctrl-C is how a
// run is meant to end.)
var ErrInterrupted = errors.New("interrupted before verify finished")

// Check reports every problem of the options at once, each naming its
// flag, before anything is built or started.
func (o Options) Check() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if o.Rate < 0 {
		add("-rate %v: must be 0 (no load: try it with curl) or a rate above 0, in events/s", o.Rate)
	}
	// The load's flags are checked without -rate too: a bad one is a
	// mistake either way, never silently unused.
	load := o.loadOptions("", nil)
	if o.Rate <= 0 { // without load, a zero is "not given"; any other bad value is named
		load.Rate = 1
		load.Users, load.EventsPerRequest, load.Clients = cmp.Or(load.Users, 1), cmp.Or(load.EventsPerRequest, 1), cmp.Or(load.Clients, 1)
	}
	problems = append(problems, load.Problems()...)
	if o.Root != "" && o.Stack != "" {
		if err := stackconfig.CheckStack(o.Root, o.Stack); err != nil {
			add("-stack %s: %v", o.Stack, err)
		}
	}
	if o.Duration < 0 {
		add("-duration %v: must be 0 (until Ctrl-C) or a positive duration, e.g. 30s", o.Duration)
	}
	if o.Outage < 0 {
		add("-outage %v: must be a duration of 0 or more, e.g. 20s", o.Outage)
	}
	if o.Chaos < 0 || o.Chaos > 1 {
		add("-chaos %v: must be a probability in 0..1", o.Chaos)
	}
	if o.Port < 0 || o.Port > 65535 {
		add("-port %d: must be 0 (a free one) or a TCP port, 1..65535", o.Port)
	}
	if o.IngestCap < 0 {
		add("-ingest-environments %d: must be at least 1 (0: the default, %d)", o.IngestCap, DefaultIngestEnvironments)
	}
	if o.ReportFile != "" {
		if info, err := os.Stat(o.ReportFile); err == nil && info.IsDir() {
			add("-report %s: is a folder; give a file in it, e.g. %s", o.ReportFile, filepath.Join(o.ReportFile, "report.json"))
		} else if err := writableDir(filepath.Dir(o.ReportFile)); err != nil {
			add("-report %s: %v (give a file in a folder that can be made and written)", o.ReportFile, err)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the run's flags:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// writableDir is nil when dir is a folder a file can be created in, or can
// be made in the nearest folder above it that exists (the report's writer
// makes the missing ones).
func writableDir(dir string) error {
	for {
		info, err := os.Stat(dir)
		if err == nil {
			if !info.IsDir() {
				return fmt.Errorf("%s is not a folder", dir)
			}
			break
		}
		parent := filepath.Dir(dir)
		if !os.IsNotExist(err) || parent == dir {
			return err
		}
		dir = parent
	}
	f, err := os.CreateTemp(dir, ".streamfn-report-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// loadOptions are the load generator's options of this run.
func (o Options) loadOptions(ingestURL string, client loadgen.PutRecordsAPI) loadgen.Options {
	return loadgen.Options{
		URL: ingestURL, Rate: o.Rate, Duration: o.Duration, Users: o.Users, Bad: o.Bad, Dup: o.Dup,
		EventsPerRequest: o.Batch, Clients: o.Clients, Seed: o.Seed,
		Kinesis: client, PartitionKeys: o.PartitionKeys, LateDup: o.LateDup,
	}
}

// Run runs the pipeline until the duration ends or ctx is cancelled
// (Ctrl-C), stops every process it started, and writes the report.
func Run(ctx context.Context, opts Options) (err error) {
	if err := opts.Check(); err != nil {
		return err // before anything starts
	}
	opts.IngestCap = cmp.Or(opts.IngestCap, DefaultIngestEnvironments)
	if err := lambdaenv.CheckPlatform(); err != nil {
		return err
	}
	r := newRun(ctx, opts)
	// Nothing is written to the caller's writers once Run returns: a build
	// step left to finish after a Ctrl-C would print into them.
	defer r.outLock.close()
	defer func() { err = r.interruptedWhilePreparing(err) }() // after every stop
	defer r.stops.run()
	for _, phase := range []func() error{r.prepare, r.start, r.load, r.drainAndVerify, r.report} {
		if err := phase(); err != nil {
			return err
		}
	}
	return nil
}

// run is one local run. Its phases fill it in order: prepare (build and
// plan), start (stand-ins, functions, the Function URL and the mapping),
// load, drain and verify, report. Whatever a phase starts, it adds to
// stops, which stops it even when a later phase fails.
type run struct {
	ctx   context.Context
	opts  Options
	begin time.Time
	out   io.Writer // progress: the lines of every phase, serialized
	// outLock is out's lock, closed when Run returns.
	outLock *lockedWriter
	// monitorOut is where the live view draws: the file itself when it is
	// one, so that the view can tell a terminal.
	monitorOut io.Writer
	stops      stopStack

	// prepare
	runDir, logsDir, binDir string
	setupLog                *os.File
	steps                   *stepPrinter
	bin                     binaries
	plan                    *plan.Plan
	d                       *deploy.Deployment

	// start
	set                    *emulatorSet
	tableOutage            *outage.Proxy // with -outage
	clients                clients
	localURLs              map[string]string // the plan's queue URL -> the local one
	lanes                  int
	ingest, processor      *lambdaenv.Pool
	traffic                *progress.Traffic
	ingestURL, lambdaURL   string
	poisonURL, failuresURL string
	mapping                *esm.Mapping // nil when the stack disables it
	stopMapping            func() error
	endpointsPath          string
	ready                  bool

	// load, drain and verify
	ledger                        *loadgen.Ledger
	gen                           *loadgen.Generator // nil without load
	mon                           *monitor
	stopMonitor                   func()
	loadStart, loadEnd, drainedAt time.Time
	interrupted                   bool
	replayed                      *redrive.ReplayReport
	verdict                       *verify.Result
}

// binaries are what prepare builds.
type binaries struct{ rie, supervisor, ingest, processor string }

func newRun(ctx context.Context, opts Options) *run {
	r := &run{ctx: ctx, opts: opts, begin: time.Now()}
	out := opts.Stdout
	if opts.JSON {
		out = opts.Stderr
	}
	// One lock for everything written there: a preparation step left to
	// finish after a Ctrl-C may still print while Run says it stopped.
	r.outLock = &lockedWriter{w: out}
	r.out, r.monitorOut = r.outLock, out
	if _, isFile := out.(*os.File); !isFile {
		r.monitorOut = r.out // writes to a file are safe from any goroutine
	}
	return r
}

func (r *run) say(format string, args ...any) { fmt.Fprintf(r.out, format+"\n", args...) }

// interruptedWhilePreparing makes a Ctrl-C before the pipeline is ready a
// stop, not a failure: the error is the cancelled step's.
//
// With -verify it is ErrInterrupted: nothing was checked, so it is no pass
// (a CI job's timeout during set-up must not read as one).
func (r *run) interruptedWhilePreparing(err error) error {
	if err != nil && !r.ready && r.ctx.Err() != nil {
		r.say("interrupted while preparing: stopped (%s)", time.Since(r.begin).Truncate(100*time.Millisecond))
		if r.opts.Verify {
			return ErrInterrupted
		}
		return nil
	}
	return err
}

// prepare makes the run's folder, installs the npm packages, builds the
// binaries and derives the deployment from the Pulumi program.
func (r *run) prepare() error {
	r.runDir = filepath.Join(r.opts.Root, ".build", "local", fmt.Sprintf("%s-%d", r.begin.UTC().Format("20060102T150405Z"), os.Getpid()))
	r.logsDir = filepath.Join(r.runDir, "logs")
	if err := os.MkdirAll(r.logsDir, 0o755); err != nil {
		return err
	}
	setupLog, err := os.Create(filepath.Join(r.logsDir, "setup.log"))
	if err != nil {
		return err
	}
	r.setupLog = setupLog
	r.stops.add(func() { setupLog.Close() })
	if err := pruneRuns(filepath.Dir(r.runDir), keepRuns); err != nil {
		r.say("pruning old run folders: %v", err)
	}
	// Each step says when it starts and ends: a first run downloads and
	// compiles for minutes.
	r.steps = &stepPrinter{out: r.out, log: setupLog}
	r.say("preparing (details in %s):", displayPath(r.opts.Root, setupLog.Name()))
	if err := r.steps.run("npm packages (npm ci: kinesalite, dynalite, fauxqs)", func() error {
		return ensureNodeModules(r.ctx, r.opts.Root, setupLog)
	}); err != nil {
		return err
	}
	// Binaries go into the run's own folder: another run in the same
	// checkout (a test, a second terminal) may rebuild the functions from
	// other sources meanwhile, and an environment that cold-starts must run
	// the code this run started with. Go's build cache keeps this cheap.
	// Only the logs and the chart are worth keeping: the folder goes once
	// every process using the binaries has stopped.
	r.binDir = filepath.Join(r.runDir, "bin")
	r.stops.add(func() { os.RemoveAll(r.binDir) })
	if err := r.build(); err != nil {
		return err
	}
	d, err := deploy.From(r.plan)
	r.d = d
	return err
}

// build builds aws-lambda-rie, the supervisor and both functions and runs
// the plan, all at once.
func (r *run) build() error {
	ctx, root, bin := r.ctx, r.opts.Root, r.binDir
	var errs [5]error
	prepared := make(chan struct{})
	go func() {
		defer close(prepared)
		var wg sync.WaitGroup
		step := func(i int, name string, f func() error) { wg.Go(func() { errs[i] = r.steps.run(name, f) }) }
		step(0, "aws-lambda-rie (go build)", func() (err error) { r.bin.rie, err = lambdaenv.BuildRIE(ctx, root, bin); return err })
		step(1, "environment supervisor (go build)", func() (err error) {
			r.bin.supervisor, err = lambdaenv.BuildSupervisor(ctx, root, bin)
			return err
		})
		step(2, "function ingest (go build)", func() (err error) {
			r.bin.ingest, err = lambdaenv.BuildFunction(ctx, root, bin, deploy.IngestName)
			return err
		})
		step(3, "function processor (go build)", func() (err error) {
			r.bin.processor, err = lambdaenv.BuildFunction(ctx, root, bin, deploy.ProcessorName)
			return err
		})
		step(4, "plan of stack "+r.opts.Stack+" (the Pulumi program under mocks)", func() (err error) {
			r.plan, err = plan.Run(plan.Options{Dir: root, Stack: r.opts.Stack})
			return err
		})
		wg.Wait()
	}()
	select {
	case <-prepared:
		return errors.Join(errs[:]...)
	case <-ctx.Done():
		// The builds end with ctx; the plan cannot be cancelled and is
		// left to finish on its own: nothing of it is started.
		return ctx.Err()
	}
}

// start starts the pipeline and says where it is.
func (r *run) start() error {
	for _, step := range []func() error{r.startStandIns, r.startFunctions, r.startMapping, r.publish} {
		if err := step(); err != nil {
			return err
		}
	}
	r.ready = true
	r.banner()
	return nil
}

// startStandIns starts kinesalite, dynalite and fauxqs (and the outage
// proxy) and creates the stream, table, bucket and queues in them.
func (r *run) startStandIns() error {
	d := r.d
	if err := r.steps.run("AWS stand-ins (Node.js)", func() (err error) {
		r.set, err = startEmulators(d.Stream.Shards, !r.opts.NoShardLimits)
		return err
	}); err != nil {
		return err
	}
	r.stops.add(r.set.stop)
	if r.opts.Outage > 0 {
		proxy, err := outage.Start(r.set.dynamodb.Endpoint)
		if err != nil {
			return err
		}
		r.stops.add(func() { proxy.Close() })
		r.tableOutage, r.set.tableEndpoint = proxy, proxy.Endpoint()
	}
	r.clients = newClients(d.Region, r.set)
	if err := r.steps.run("stream, table and queues", func() (err error) {
		r.localURLs, err = createResources(r.ctx, d, r.clients)
		return err
	}); err != nil {
		return err
	}
	if q, ok := d.Queue(d.Mapping.OnFailure); ok {
		r.failuresURL = r.localURLs[q.URL]
	}
	if q, ok := d.Queue(deploy.PoisonName); ok {
		r.poisonURL = r.localURLs[q.URL]
	}
	return nil
}

// startFunctions starts both functions' pools of environments, the
// Function URL in front of ingest and the Lambda Invoke API of both (for
// the SDK's lambda client, the redrive tool, through
// AWS_ENDPOINT_URL_LAMBDA).
func (r *run) startFunctions() error {
	d := r.d
	var err error
	r.lanes = d.Stream.Shards * d.Mapping.ParallelizationFactor
	if r.ingest, err = r.newPool(d.Ingest, d.Ingest.Concurrency(r.opts.IngestCap), r.bin.ingest, 1); err != nil {
		return err
	}
	if r.processor, err = r.newPool(d.Processor, d.Processor.Concurrency(r.lanes), r.bin.processor, 2); err != nil {
		return err
	}
	listener, err := listen(r.opts.Port)
	if err != nil {
		return err
	}
	r.ingestURL = "http://" + listener.Addr().String() + "/"
	r.traffic = &progress.Traffic{} // every request, the load's and curl's
	r.serve(listener, r.traffic.Wrap(funcurl.NewHandler(funcurl.Options{
		AccountID: d.AccountID, Region: d.Region, URLID: urlID(d.URL.URL), AuthType: d.URL.AuthType,
	}, r.ingest)))
	lambdaListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("serving the Lambda API: %w", err)
	}
	r.lambdaURL = "http://" + lambdaListener.Addr().String()
	r.serve(lambdaListener, lambdaapi.NewHandler(lambdaFunction(d.Ingest, r.ingest), lambdaFunction(d.Processor, r.processor)))
	return nil
}

// serve serves handler on l until the run stops.
func (r *run) serve(l net.Listener, handler http.Handler) {
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = server.Serve(l) }()
	r.stops.add(func() { server.Close() })
}

func lambdaFunction(f deploy.Function, pool *lambdaenv.Pool) lambdaapi.Function {
	return lambdaapi.Function{
		Name: f.Name, ARN: f.ARN, Role: f.RoleARN, Timeout: f.Timeout, MemoryMB: f.MemoryMB, Environment: f.Environment, Invoker: pool,
	}
}

// startMapping starts the event-source mapping and waits until it reads
// every shard; a stack that disables the mapping gets none.
func (r *run) startMapping() error {
	r.stopMapping = func() error { return nil }
	if !r.d.Mapping.Enabled {
		return nil
	}
	cfg := mappingConfig(r.d, r.clients, r.failuresURL)
	if r.d.Mapping.OnFailureType == deploy.TypeBucket {
		cfg.Destination = bucketDestination(r.clients.s3, r.d.FailureBucket.Name, r.d.MappingUUID())
	}
	mapping, err := esm.New(cfg, r.clients.kinesis, r.processor)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mapping.Run(ctx) }()
	r.stopMapping = sync.OnceValue(func() error { cancel(); return <-done })
	r.stops.add(func() { _ = r.stopMapping() })
	select {
	case <-mapping.Ready():
		r.mapping = mapping
		return nil
	case err := <-done:
		return err
	}
}

// publish writes the endpoints file that tools and the SDK reach the run by.
func (r *run) publish() error {
	path, err := publishEndpoints(r.opts, r.runDir, r.plan, r.d, r.set, r.localURLs, r.ingestURL, r.lambdaURL)
	if err != nil {
		return err
	}
	r.endpointsPath = path
	r.stops.add(func() { _ = endpoints.Withdraw(path) }) // before the stand-ins it names go
	if r.opts.Published != nil {
		r.opts.Published(path)
	}
	return nil
}

// load sends the load (-rate), or waits for requests until the duration
// ends or Ctrl-C, with the live view running.
func (r *run) load() error {
	opts := r.opts
	r.ledger = loadgen.NewLedger()
	if opts.Rate > 0 {
		loadOpts := opts.loadOptions(r.ingestURL, r.clients.kinesis)
		loadOpts.StreamName = r.d.Stream.Name
		gen, err := loadgen.New(loadOpts, r.ledger)
		if err != nil {
			return err
		}
		r.gen = gen
	}
	r.mon = newMonitor(r.monitorOut, r.mapping, r.ingest, r.processor, r.gen, r.traffic, r.clients.sqs, r.poisonURL, r.failuresURL)
	if !opts.NoShardLimits {
		r.mon.kinesis = r.set.kinesis
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.mon.run(ctx); close(done) }()
	r.stopMonitor = sync.OnceFunc(func() { cancel(); <-done })
	r.stops.add(r.stopMonitor)

	r.loadStart = time.Now()
	defer func() { r.loadEnd, r.drainedAt, r.interrupted = time.Now(), time.Now(), r.ctx.Err() != nil }()
	if r.tableOutage != nil {
		r.tableOutage.Set(r.loadStart, opts.Outage)
	}
	if r.gen != nil {
		r.mon.setPhase(fmt.Sprintf("load: %.0f events/s for %s", opts.Rate, durationText(opts.Duration)))
		if err := r.gen.Run(r.ctx); err != nil && r.ctx.Err() == nil {
			return err
		}
		return nil
	}
	r.mon.setPhase("waiting for requests (Ctrl-C to stop)")
	var timeout <-chan time.Time
	if opts.Duration > 0 {
		timer := time.NewTimer(opts.Duration)
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-r.ctx.Done():
	case <-timeout:
	}
	return nil
}

// drainAndVerify waits for the mapping to finish every record, replays the
// on-failure records with -redrive, and verifies with -verify. Ctrl-C in
// any of them skips the rest: a stop, not a failure.
func (r *run) drainAndVerify() error {
	if !r.interrupted && r.mapping != nil && (r.opts.Verify || r.opts.Duration > 0) {
		r.mon.setPhase("draining: waiting for every shard to be read and processed")
		if err := drain(r.ctx, r.mapping, r.loadEnd, r.d.Processor.Timeout); err != nil && r.ctx.Err() == nil {
			r.say("%v", err)
		}
		r.drainedAt = time.Now()
		r.interrupted = r.ctx.Err() != nil
	}
	tool := r.redriveTool()
	if r.opts.Redrive && !r.interrupted && r.mapping != nil {
		r.mon.setPhase("redrive: replaying every on-failure record")
		rep, err := tool.Replay(r.ctx, redrive.ReplayOptions{})
		switch {
		case err != nil && r.ctx.Err() != nil:
			r.interrupted = true
		case err != nil:
			return fmt.Errorf("redrive: %w", err)
		default:
			r.replayed = rep
		}
	}
	if !r.opts.Verify || r.interrupted {
		return nil
	}
	r.mon.setPhase("verifying")
	res, err := verify.Run(r.ctx, r.verifyInput(tool))
	switch {
	case err != nil && r.ctx.Err() != nil:
		r.interrupted = true
	case err != nil:
		return fmt.Errorf("verify: %w", err)
	default:
		r.verdict = &res
	}
	return nil
}

// redriveTool is the redrive tool pointed at this run, as an operator's
// would be at the stack.
func (r *run) redriveTool() *redrive.Tool {
	d := r.d
	tool := &redrive.Tool{
		Target: redrive.Target{
			Stack: r.opts.Stack, Source: "the local run", Bucket: d.FailureBucket.Name, FailuresQueueURL: r.failuresURL,
			PoisonQueueURL: r.poisonURL, StreamName: d.Stream.Name, StreamARN: d.Stream.ARN, Processor: d.Processor.Name,
		},
		S3: r.clients.s3, SQS: r.clients.sqs, Kinesis: r.clients.kinesis, Lambda: newLambdaClient(d.Region, r.lambdaURL),
	}
	if tool.Target.Bucket != "" {
		tool.Target.FailuresQueueURL = "" // the mapping's destination is the bucket
	}
	return tool
}

func (r *run) verifyInput(tool *redrive.Tool) verify.Input {
	d := r.d
	in := verify.Input{
		Ledger: r.ledger, DynamoDB: r.clients.dynamodb, Table: d.Table.Name, TTLAttribute: d.Table.TTLAttribute,
		CheckTTL: d.Table.TTLAttribute != "" && ttlDays(d.Processor) > 0,
		SQS:      r.clients.sqs, PoisonQueueURL: r.poisonURL,
		ReadRange: tool.ReadRange,
		// After a redrive, verify is exact, as if there had been no
		// outage: any on-failure record left is a difference.
		ExpectFailures: r.opts.Outage > 0 && !r.opts.Redrive,
	}
	if tool.Target.Bucket == "" && tool.Target.FailuresQueueURL == "" {
		return in
	}
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
	return in
}

// report stops everything, then writes the summary, the chart and the
// verdict line.
func (r *run) report() error {
	r.stopMonitor()
	r.mon.final() // while the stand-ins still run: it reads the queues
	r.stops.run()
	sum := r.summary()
	chart := filepath.Join(r.runDir, "chart.html")
	title := fmt.Sprintf("streamfn local run, stack %s, %s", r.opts.Stack, r.begin.UTC().Format(time.RFC3339))
	if err := os.WriteFile(chart, []byte(report.Chart(title, sum.Series)), 0o644); err == nil {
		sum.Chart = chart
	}
	if r.opts.JSON {
		if err := sum.JSON(r.opts.Stdout); err != nil {
			return err
		}
	} else {
		sum.Text(r.opts.Stdout)
	}
	var reportErr error
	if r.opts.ReportFile != "" {
		if err := sum.WriteJSONFile(r.opts.ReportFile); err != nil {
			reportErr = fmt.Errorf("writing the JSON report: %w", err)
			r.say("  report     NOT WRITTEN: %v", err)
		} else {
			r.say("  report     %s", displayPath(r.opts.Root, r.opts.ReportFile))
		}
	}
	if r.interrupted && r.gen != nil {
		r.say("interrupted (Ctrl-C): the load ran %s of %s", r.loadEnd.Sub(r.loadStart).Truncate(100*time.Millisecond), durationText(r.opts.Duration))
	}
	if r.interrupted && r.opts.Verify {
		r.say("interrupted: verify skipped")
	}
	name := cmp.Or(r.opts.Name, "local")
	if line := sum.Verdict(name); line != "" {
		r.say("%s", line) // the last line
	}
	return outcome(r.opts.Verify, r.verdict, r.interrupted, reportErr)
}

// outcome is how a run that got as far as its report ended: a finding
// outranks an interruption, which outranks a report that could not be
// written.
func outcome(verifyAsked bool, verdict *verify.Result, interrupted bool, reportErr error) error {
	switch {
	case verdict != nil && !verdict.OK:
		return ErrVerifyFailed
	case verifyAsked && verdict == nil && interrupted:
		return ErrInterrupted
	}
	return reportErr
}

// summary is the report of a stopped run.
func (r *run) summary() *report.Summary {
	opts, mon := r.opts, r.mon
	poison, failures := mon.queueCounts()
	sum := &report.Summary{
		Redrive: r.replayed,
		Stack:   opts.Stack,
		Settings: map[string]any{
			"rate": opts.Rate, "duration": opts.Duration.String(), "users": opts.Users, "bad": opts.Bad, "dup": opts.Dup,
			"pk": opts.PartitionKeys, "lateDup": opts.LateDup.String(),
			"batch": opts.Batch, "clients": opts.Clients, "seed": opts.Seed, "chaos": opts.Chaos, "verify": opts.Verify,
			"outage": opts.Outage.String(), "redrive": opts.Redrive,
		},
		LoadFor:   r.loadEnd.Sub(r.loadStart).Seconds(),
		RanFor:    time.Since(r.begin).Seconds(),
		Traffic:   r.traffic.Stats(),
		Ingest:    r.ingest.Stats(),
		Processor: r.processor.Stats(),
		Poison:    poison,
		Failures:  failures,
		Verify:    r.verdict,
		Kinesis:   mon.throttles(),
		LogsDir:   r.logsDir,
		Series:    mon.series(),
	}
	if r.gen != nil {
		sum.Load = r.gen.Stats()
	}
	if r.tableOutage != nil {
		sum.Outage = &report.Outage{Seconds: opts.Outage.Seconds(), WritesRefused: r.tableOutage.Refused()}
	}
	if r.mapping != nil {
		sum.Mapping = r.mapping.Stats()
		sum.IteratorAge = report.IteratorAges(mon.samples())
	}
	if secs := sum.LoadFor; secs > 0 {
		sum.AcceptedPerS = float64(sum.Load.Accepted) / secs
	}
	// Processing ends when the mapping drained, which may be well after
	// the load stopped: that is the rate the pipeline sustained.
	sum.ProcessedFor = r.drainedAt.Sub(r.loadStart).Seconds()
	if secs := sum.ProcessedFor; secs > 0 {
		sum.ProcessedPerS = float64(sum.Mapping.RecordsSucceeded) / secs
	}
	for _, pt := range sum.Series {
		sum.PeakPerS = max(sum.PeakPerS, pt.Processed)
	}
	if w, err := report.ProcessorWrites(filepath.Join(r.logsDir, r.d.Processor.Logical+".log")); err == nil {
		sum.Writes = w
		if secs := sum.ProcessedFor; secs > 0 {
			sum.Writes.InvocationsPerS = float64(sum.Mapping.Invocations) / secs
		}
	}
	return sum
}

// stopStack is what a run started, stopped in reverse order of starting,
// each once, however the run ends.
type stopStack struct{ stops []func() }

func (s *stopStack) add(stop func()) { s.stops = append(s.stops, stop) }

func (s *stopStack) run() {
	for len(s.stops) > 0 {
		last := s.stops[len(s.stops)-1]
		s.stops = s.stops[:len(s.stops)-1]
		last()
	}
}

// newPool starts nothing yet: a pool starts environments on demand. Its
// log file is the function's log in the run's logs folder.
func (r *run) newPool(f deploy.Function, concurrency int, bootstrap string, seed uint64) (*lambdaenv.Pool, error) {
	logFile, err := os.OpenFile(filepath.Join(r.logsDir, f.Logical+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	// The processes hold their own copy of the descriptor.
	pool, err := lambdaenv.NewPool(lambdaenv.Spec{
		Name:        f.Name,
		Bootstrap:   bootstrap,
		RIE:         r.bin.rie,
		Supervisor:  r.bin.supervisor,
		Env:         functionEnv(f, r.d.Region, r.localURLs, r.set),
		Timeout:     f.Timeout,
		MemoryMB:    f.MemoryMB,
		Concurrency: concurrency,
		Log:         logFile,
		Chaos:       lambdaenv.Chaos{Probability: r.opts.Chaos, Seed: uint64(r.opts.Seed)*31 + seed},
	})
	if err != nil {
		logFile.Close()
		return nil, err
	}
	r.stops.add(pool.Close)
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

// drain waits until the mapping has read every shard to its end after the
// load stopped and finished every record. A function timeout can hold a
// batch for that long, twice over (a retry), so the wait allows for it.
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

// banner says what runs where, and how to try it.
func (r *run) banner() {
	d, opts, lanes, ingestURL, logsDir, endpointsPath := r.d, r.opts, r.lanes, r.ingestURL, r.logsDir, r.endpointsPath
	p := r.say
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

// lockedWriter serializes writes from several goroutines, until it is
// closed: then it drops them.
type lockedWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return len(p), nil
	}
	return l.w.Write(p)
}

func (l *lockedWriter) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
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
