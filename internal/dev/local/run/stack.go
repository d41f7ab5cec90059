package run

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/local/deploy"
)

// Dummy credentials: the stand-ins accept any.
const (
	accessKey = "local"
	secretKey = "local"
)

// ensureNodeModules runs `npm ci` when node_modules is missing or older
// than package-lock.json, so a fresh clone needs nothing but Node.js.
func ensureNodeModules(ctx context.Context, root string, log *os.File) error {
	if _, err := exec.LookPath("node"); err != nil {
		return emulators.ErrNodeMissing
	}
	lock, err := os.Stat(filepath.Join(root, "package-lock.json"))
	if err != nil {
		return fmt.Errorf("package-lock.json: %w", err)
	}
	// npm writes node_modules/.package-lock.json on every install.
	if installed, err := os.Stat(filepath.Join(root, "node_modules", ".package-lock.json")); err == nil && !installed.ModTime().Before(lock.ModTime()) {
		return nil
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = root
	cmd.Stdout = log
	cmd.Stderr = log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm ci failed (%v): see %s", err, log.Name())
	}
	return nil
}

// emulatorSet is the three running stand-ins.
type emulatorSet struct {
	kinesis, dynamodb, sqs *emulators.Server
	// tableEndpoint is where the functions reach DynamoDB: dynalite, or the
	// outage proxy in front of it (-outage).
	tableEndpoint string
}

// s3Endpoint is fauxqs's: it serves S3 beside SQS.
func (s *emulatorSet) s3Endpoint() string { return s.sqs.Endpoint }

// standInNodeFlags give the stand-ins a larger young generation, which
// saves kinesalite and dynalite much of their garbage-collection time under
// load (measured: about 6% more records/s).
var standInNodeFlags = []string{"--max-semi-space-size=64"}

func startEmulators(shards int, shardLimits bool) (*emulatorSet, error) {
	set := &emulatorSet{}
	var wg sync.WaitGroup
	var errs [3]error
	start := func(i int, kind emulators.Kind, into **emulators.Server) {
		wg.Go(func() {
			s, err := emulators.Start(kind, emulators.Options{
				ShardLimit: max(100, shards), ShardThroughputLimits: shardLimits, NodeFlags: standInNodeFlags,
			})
			*into, errs[i] = s, err
		})
	}
	start(0, emulators.Kinesis, &set.kinesis)
	start(1, emulators.DynamoDB, &set.dynamodb)
	start(2, emulators.SQS, &set.sqs)
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		set.stop()
		return nil, err
	}
	set.tableEndpoint = set.dynamodb.Endpoint
	return set, nil
}

func (s *emulatorSet) stop() {
	if s == nil {
		return
	}
	var wg sync.WaitGroup
	for _, srv := range []*emulators.Server{s.kinesis, s.dynamodb, s.sqs} {
		if srv != nil {
			wg.Go(srv.Stop)
		}
	}
	wg.Wait()
}

// clients are the SDK clients of the local run itself.
type clients struct {
	kinesis  *kinesis.Client
	dynamodb *dynamodb.Client
	sqs      *sqs.Client
	s3       *s3.Client
}

func newClients(region string, set *emulatorSet) clients {
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32, IdleConnTimeout: time.Minute}}
	cfg := func(endpoint string) aws.Config {
		return aws.Config{
			Region:       region,
			Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
			BaseEndpoint: aws.String(endpoint),
			HTTPClient:   httpClient,
		}
	}
	return clients{
		kinesis:  kinesis.NewFromConfig(cfg(set.kinesis.Endpoint)),
		dynamodb: dynamodb.NewFromConfig(cfg(set.dynamodb.Endpoint)),
		sqs:      sqs.NewFromConfig(cfg(set.sqs.Endpoint)),
		s3: s3.NewFromConfig(cfg(set.s3Endpoint()), func(o *s3.Options) {
			o.UsePathStyle = true
			o.DisableLogOutputChecksumValidationSkipped = true // fauxqs sends no checksums
		}),
	}
}

// newLambdaClient reaches the local run's Lambda API.
func newLambdaClient(region, endpoint string) *lambda.Client {
	return lambda.NewFromConfig(aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		BaseEndpoint: aws.String(endpoint),
	})
}

// createResources creates the stream, table and queues the plan declares
// and returns the local URL of each queue, keyed by the plan's URL.
func createResources(ctx context.Context, d *deploy.Deployment, c clients) (map[string]string, error) {
	// ON_DEMAND has no meaning to kinesalite: it gets the shard count the
	// deployment chose (config.OnDemandInitialShards).
	_, err := c.kinesis.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(d.Stream.Name), ShardCount: aws.Int32(int32(d.Stream.Shards))})
	if err != nil {
		return nil, fmt.Errorf("creating stream %s in kinesalite: %w", d.Stream.Name, err)
	}
	streamWaiter := kinesis.NewStreamExistsWaiter(c.kinesis, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := streamWaiter.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(d.Stream.Name)}, 30*time.Second); err != nil {
		return nil, fmt.Errorf("waiting for stream %s: %w", d.Stream.Name, err)
	}
	if d.Stream.RetentionHours > 24 {
		if _, err := c.kinesis.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{
			StreamName: aws.String(d.Stream.Name), RetentionPeriodHours: aws.Int32(int32(d.Stream.RetentionHours)),
		}); err != nil {
			return nil, fmt.Errorf("setting stream %s retention to %dh: %w", d.Stream.Name, d.Stream.RetentionHours, err)
		}
	}

	table := &dynamodb.CreateTableInput{
		TableName:   aws.String(d.Table.Name),
		KeySchema:   []ddbtypes.KeySchemaElement{{AttributeName: aws.String(d.Table.HashKey), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode: ddbtypes.BillingModePayPerRequest,
	}
	for _, a := range d.Table.Attributes {
		table.AttributeDefinitions = append(table.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(a.Name), AttributeType: ddbtypes.ScalarAttributeType(a.Type),
		})
	}
	if _, err := c.dynamodb.CreateTable(ctx, table); err != nil {
		return nil, fmt.Errorf("creating table %s in dynalite: %w", d.Table.Name, err)
	}
	tableWaiter := dynamodb.NewTableExistsWaiter(c.dynamodb, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := tableWaiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(d.Table.Name)}, 30*time.Second); err != nil {
		return nil, fmt.Errorf("waiting for table %s: %w", d.Table.Name, err)
	}

	if b := d.FailureBucket.Name; b != "" {
		if _, err := c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			return nil, fmt.Errorf("creating bucket %s in fauxqs: %w", b, err)
		}
	}

	localURLs := map[string]string{}
	for _, q := range d.Queues {
		out, err := c.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(q.Name)})
		if err != nil {
			return nil, fmt.Errorf("creating queue %s in fauxqs: %w", q.Name, err)
		}
		localURLs[q.URL] = aws.ToString(out.QueueUrl)
	}
	return localURLs, nil
}

// functionEnv is what a function sees: the plan's environment (queue URLs
// made local, logging config), the SDK's standard endpoint variables
// pointing at the stand-ins, a region and dummy credentials.
func functionEnv(f deploy.Function, region string, localURLs map[string]string, set *emulatorSet) map[string]string {
	env := f.Env(localURLs)
	env["AWS_REGION"] = region
	env["AWS_DEFAULT_REGION"] = region
	env["AWS_ACCESS_KEY_ID"] = accessKey
	env["AWS_SECRET_ACCESS_KEY"] = secretKey
	env["AWS_ENDPOINT_URL_KINESIS"] = set.kinesis.Endpoint
	env["AWS_ENDPOINT_URL_DYNAMODB"] = set.dynamodb.Endpoint
	if set.tableEndpoint != "" {
		env["AWS_ENDPOINT_URL_DYNAMODB"] = set.tableEndpoint // the outage proxy
	}
	env["AWS_ENDPOINT_URL_SQS"] = set.sqs.Endpoint
	env["AWS_ENDPOINT_URL_S3"] = set.s3Endpoint()
	return env
}
