package pipeline

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/streamfn/streamfn/infra/build"
	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/infra/names"
	"github.com/streamfn/streamfn/internal/ingest"
	"github.com/streamfn/streamfn/internal/lambdafn/telemetry"
	"github.com/streamfn/streamfn/internal/processor"
)

// Function is one Lambda function with everything it owns.
type Function struct {
	Function *lambda.Function
	Role     *iam.Role
	Policy   *iam.RolePolicy
	LogGroup *cloudwatch.LogGroup
	// Alias is set when the function serves through a published version ("live"), which
	// provisioned concurrency needs; callers then target the alias, not $LATEST.
	Alias       *lambda.Alias
	Provisioned *lambda.ProvisionedConcurrencyConfig
}

// Qualifier is what a Function URL or permission targets: the alias name, or "" for $LATEST.
func (f *Function) Qualifier() pulumi.StringPtrInput {
	if f.Alias == nil {
		return nil
	}
	return f.Alias.Name
}

const (
	runtime = "provided.al2023"
	handler = "bootstrap" // the provided runtimes execute the archive's bootstrap binary

	liveAlias = "live"
)

type functionSpec struct {
	name        string
	description string
	artifact    build.Artifact
	memoryMB    int
	timeout     int
	reserved    int
	env         pulumi.StringMap
	publish     bool
	// policy builds the role's inline policy once the function's log group ARN is known.
	policy func(logGroupARN pulumi.StringOutput) pulumi.StringOutput
}

// DebugLogsOnProdWarning is logged on every run of the prod stack whose functions log at
// DEBUG or TRACE: those levels echo rejected values, which may be personal data, into the
// logs (README, Data protection).
const DebugLogsOnProdWarning = "streamfn:logLevel is DEBUG or TRACE on the prod stack: the functions then log rejected values, which may hold personal data, " +
	"for logRetentionDays. Run: pulumi config set streamfn:logLevel INFO"

// LogsPersonalData reports whether an application log level writes values from events.
func LogsPersonalData(level string) bool { return level == "DEBUG" || level == "TRACE" }

func newFunction(ctx *pulumi.Context, cfg *config.Config, spec functionSpec, opts ...pulumi.ResourceOption) (*Function, error) {
	// The log group exists before the function, under a name of our choosing, so the role's
	// policy can name its exact ARN and Lambda never creates an unmanaged group.
	logGroup, err := cloudwatch.NewLogGroup(ctx, spec.name+"-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(names.LogGroup.Name(fmt.Sprintf("/%s/%s/%s", ctx.Project(), ctx.Stack(), spec.name))),
		RetentionInDays: pulumi.Int(cfg.LogRetentionDays),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the %s log group: %w", spec.name, err)
	}
	role, policy, err := newRole(ctx, spec.name, spec.policy(logGroup.Arn), opts...)
	if err != nil {
		return nil, err
	}
	fn, err := lambda.NewFunction(ctx, spec.name, &lambda.FunctionArgs{
		Description:                  pulumi.String(spec.description),
		Runtime:                      pulumi.String(runtime),
		Handler:                      pulumi.String(handler),
		Architectures:                pulumi.StringArray{pulumi.String(cfg.Architecture)},
		Code:                         pulumi.NewFileArchive(spec.artifact.Path),
		SourceCodeHash:               pulumi.String(spec.artifact.SHA256),
		MemorySize:                   pulumi.Int(spec.memoryMB),
		Timeout:                      pulumi.Int(spec.timeout),
		ReservedConcurrentExecutions: pulumi.Int(spec.reserved),
		Role:                         role.Arn,
		Publish:                      pulumi.Bool(spec.publish),
		Environment:                  &lambda.FunctionEnvironmentArgs{Variables: spec.env},
		LoggingConfig: &lambda.FunctionLoggingConfigArgs{
			LogFormat:           pulumi.String("JSON"),
			LogGroup:            logGroup.Name,
			ApplicationLogLevel: pulumi.String(cfg.LogLevel),
			SystemLogLevel:      pulumi.String(cfg.SystemLogLevel),
		},
	}, append(opts, pulumi.DependsOn([]pulumi.Resource{policy}))...)
	if err != nil {
		return nil, fmt.Errorf("creating the %s function: %w", spec.name, err)
	}
	return &Function{Function: fn, Role: role, Policy: policy, LogGroup: logGroup}, nil
}

func newProcessor(ctx *pulumi.Context, cfg *config.Config, artifact build.Artifact, p *StreamPipeline, opts ...pulumi.ResourceOption) (*Function, error) {
	keyARN, retired := cfg.KMSKeyID, cfg.RetiredKMSKeyIDs
	consumerARN := pulumi.String("").ToStringOutput()
	if p.Consumer != nil {
		consumerARN = p.Consumer.Arn
	}
	return newFunction(ctx, cfg, functionSpec{
		name:        "processor",
		description: "streamfn: keeps per-user features from the activity stream",
		artifact:    artifact,
		memoryMB:    cfg.ProcessorMemoryMB,
		timeout:     cfg.ProcessorTimeoutSeconds,
		reserved:    cfg.ProcessorConcurrency,
		env: pulumi.StringMap{
			processor.EnvTableName:      p.Table.Name,
			processor.EnvPoisonQueueURL: p.PoisonQueue.Url,
			// Poison payloads too large for an SQS message go here (claim check).
			processor.EnvPoisonPayloadBucket: p.FailureBucket.Bucket,
			processor.EnvTTLAttribute:        pulumi.String(featuresTTLAttr),
			processor.EnvFeatureTTLDays:      pulumi.String(strconv.Itoa(cfg.FeatureTTLDays)),
			telemetry.EnvMetricsNamespace:    pulumi.String(cfg.MetricsNamespace),
			// The Seen set's horizons (package features).
			processor.EnvDedupHorizonSeconds:      pulumi.String(strconv.Itoa(cfg.DedupHorizonSeconds)),
			processor.EnvRedeliveryHorizonSeconds: pulumi.String(strconv.Itoa(cfg.RedeliveryHorizonSeconds())),
		},
		policy: func(logGroupARN pulumi.StringOutput) pulumi.StringOutput {
			failuresQueue := pulumi.String("").ToStringOutput()
			if p.FailuresQueue != nil {
				failuresQueue = p.FailuresQueue.Arn
			}
			return pulumi.All(p.Stream.Arn, p.Table.Arn, failuresQueue, p.PoisonQueue.Arn, logGroupARN, consumerARN, p.FailureBucket.Arn).
				ApplyT(func(arns []any) (string, error) {
					account, err := accountOf(arns[0].(string))
					if err != nil {
						return "", err
					}
					return processorPolicy(processorResources{
						StreamARN: arns[0].(string), TableARN: arns[1].(string),
						FailuresQueueARN: arns[2].(string), PoisonQueueARN: arns[3].(string),
						LogGroupARN: arns[4].(string), StreamKeyARN: keyARN,
						RetiredKeyARNs: retired, ConsumerARN: arns[5].(string),
						FailureBucketARN: arns[6].(string), Account: account,
					}).JSON()
				}).(pulumi.StringOutput)
		},
	}, opts...)
}

// accountOf is the account of an ARN (arn:partition:service:region:account:resource).
func accountOf(resourceARN string) (string, error) {
	a, err := arn.Parse(resourceARN)
	if err != nil || a.AccountID == "" {
		return "", fmt.Errorf("reading the account of %q: not an ARN with an account", resourceARN)
	}
	return a.AccountID, nil
}

func newIngest(ctx *pulumi.Context, cfg *config.Config, artifact build.Artifact, p *StreamPipeline, opts ...pulumi.ResourceOption) (*Function, error) {
	keyARN := cfg.KMSKeyID
	provisioned := cfg.IngestProvisionedConcurrency > 0
	f, err := newFunction(ctx, cfg, functionSpec{
		name:        "ingest",
		description: "streamfn: accepts activity events over HTTP and writes them to the stream",
		artifact:    artifact,
		memoryMB:    cfg.IngestMemoryMB,
		timeout:     cfg.IngestTimeoutSeconds,
		reserved:    cfg.IngestConcurrency,
		publish:     provisioned,
		env: pulumi.StringMap{
			ingest.EnvStreamName:          p.Stream.Name,
			telemetry.EnvMetricsNamespace: pulumi.String(cfg.MetricsNamespace),
			ingest.EnvThrottleRetryMs:     pulumi.String(strconv.Itoa(cfg.IngestThrottleRetryMs)),
		},
		policy: func(logGroupARN pulumi.StringOutput) pulumi.StringOutput {
			return pulumi.All(p.Stream.Arn, logGroupARN).ApplyT(func(arns []any) (string, error) {
				return ingestPolicy(ingestResources{
					StreamARN: arns[0].(string), LogGroupARN: arns[1].(string), StreamKeyARN: keyARN,
				}).JSON()
			}).(pulumi.StringOutput)
		},
	}, opts...)
	if err != nil || !provisioned {
		return f, err
	}

	f.Alias, err = lambda.NewAlias(ctx, "ingest-live", &lambda.AliasArgs{
		Name:            pulumi.String(liveAlias),
		Description:     pulumi.String("The published ingest version that serves the Function URL"),
		FunctionName:    f.Function.Name,
		FunctionVersion: f.Function.Version,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the ingest alias: %w", err)
	}
	f.Provisioned, err = lambda.NewProvisionedConcurrencyConfig(ctx, "ingest-provisioned", &lambda.ProvisionedConcurrencyConfigArgs{
		FunctionName:                    f.Function.Name,
		Qualifier:                       f.Alias.Name,
		ProvisionedConcurrentExecutions: pulumi.Int(cfg.IngestProvisionedConcurrency),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the ingest provisioned concurrency: %w", err)
	}
	return f, nil
}
