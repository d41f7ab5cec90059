package pipeline

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/infra/names"
)

// ProdStack is the stack name that is held to production expectations, such as someone
// receiving the alarms.
const ProdStack = "prod"

// NoAlarmEmailWarning is logged on every run of the prod stack while no one receives alarms.
const NoAlarmEmailWarning = "streamfn:alarmEmail is empty on the prod stack: the alarms notify a topic no one is subscribed to. " +
	"Run: pulumi config set streamfn:alarmEmail oncall@example.com, or subscribe another endpoint to the alarmTopicArn output (README, \"Alarms\")"

// alarmSpec is one CloudWatch alarm on an AWS metric.
type alarmSpec struct {
	name        string
	description string
	namespace   string
	metric      string
	statistic   string
	dimensions  pulumi.StringMap
	threshold   float64
	period      int
}

// newAlarms creates the alarm topic (with its key and optional e-mail subscription) and the
// alarms that notify it.
//
// The topic is encrypted with a customer key rather than alias/aws/sns: CloudWatch alarms
// cannot publish to a topic under the AWS-managed SNS key, whose policy no one can extend to
// cloudwatch.amazonaws.com, and notifications would be dropped without any error.
func newAlarms(ctx *pulumi.Context, cfg *config.Config, p *StreamPipeline, opts ...pulumi.ResourceOption) (*sns.Topic, []*cloudwatch.MetricAlarm, error) {
	key, err := newAlarmKey(ctx, cfg.Region, opts...)
	if err != nil {
		return nil, nil, err
	}
	topic, err := sns.NewTopic(ctx, "alarms", &sns.TopicArgs{
		DisplayName:    pulumi.String(names.TopicDisplayName.Name(fmt.Sprintf("%s %s alarms", ctx.Project(), ctx.Stack()))),
		KmsMasterKeyId: key.Arn,
	}, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the alarm topic: %w", err)
	}
	identity := aws.GetCallerIdentityOutput(ctx, aws.GetCallerIdentityOutputArgs{}, invokeOptions(opts)...)
	topicPolicy := pulumi.All(identity.AccountId(), identity.Arn(), topic.Arn).ApplyT(func(v []any) (string, error) {
		return alarmTopicPolicy(v[0].(string), partitionOf(v[1].(string)), cfg.Region, v[2].(string)).JSON()
	}).(pulumi.StringOutput)
	if _, err := sns.NewTopicPolicy(ctx, "alarms-policy", &sns.TopicPolicyArgs{Arn: topic.Arn, Policy: topicPolicy}, opts...); err != nil {
		return nil, nil, fmt.Errorf("creating the alarm topic's policy: %w", err)
	}
	if cfg.AlarmEmail == "" && ctx.Stack() == ProdStack {
		if err := ctx.Log.Warn(NoAlarmEmailWarning, nil); err != nil {
			return nil, nil, fmt.Errorf("warning about the missing alarm e-mail: %w", err)
		}
	}
	if cfg.AlarmEmail != "" {
		if _, err := sns.NewTopicSubscription(ctx, "alarms-email", &sns.TopicSubscriptionArgs{
			Topic:    topic.Arn,
			Protocol: pulumi.String("email"),
			Endpoint: pulumi.String(cfg.AlarmEmail),
		}, opts...); err != nil {
			return nil, nil, fmt.Errorf("subscribing %s to the alarm topic: %w", cfg.AlarmEmail, err)
		}
	}

	var alarms []*cloudwatch.MetricAlarm
	for _, spec := range alarmSpecs(cfg, p) {
		// Notifications go out on ALARM only, never on OK: CloudWatch runs OK actions on
		// every transition to OK, including each new alarm's first evaluation
		// (INSUFFICIENT_DATA -> OK), so a fresh deploy would mail every subscriber once per
		// alarm, and the actions cannot be limited to ALARM -> OK (README, "Alarms").
		alarm, err := cloudwatch.NewMetricAlarm(ctx, spec.name, &cloudwatch.MetricAlarmArgs{
			AlarmDescription:   pulumi.String(spec.description),
			Namespace:          pulumi.String(spec.namespace),
			MetricName:         pulumi.String(spec.metric),
			Statistic:          pulumi.String(spec.statistic),
			Dimensions:         spec.dimensions,
			Period:             pulumi.Int(spec.period),
			EvaluationPeriods:  pulumi.Int(1),
			Threshold:          pulumi.Float64(spec.threshold),
			ComparisonOperator: pulumi.String("GreaterThanThreshold"),
			// No data means no traffic, which is not an incident.
			TreatMissingData: pulumi.String("notBreaching"),
			AlarmActions:     pulumi.Array{topic.Arn},
		}, opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("creating the %s alarm: %w", spec.name, err)
		}
		alarms = append(alarms, alarm)
	}
	return topic, alarms, nil
}

func alarmSpecs(cfg *config.Config, p *StreamPipeline) []alarmSpec {
	processor := pulumi.StringMap{"FunctionName": p.Processor.Function.Name}
	ingest := pulumi.StringMap{"FunctionName": p.Ingest.Function.Name}
	specs := []alarmSpec{
		{
			name:        "processor-iterator-age",
			description: fmt.Sprintf("The processor is more than %d s behind the stream (streamfn:iteratorAgeAlarmSeconds). Raise parallelizationFactor, shards or processor memory, or look for a failing batch.", cfg.IteratorAgeAlarmSeconds),
			namespace:   "AWS/Lambda", metric: "IteratorAge", statistic: "Maximum", dimensions: processor,
			threshold: float64(cfg.IteratorAgeAlarmSeconds) * 1000, period: 60,
		},
		{
			name:        "processor-errors",
			description: "The processor failed whole invocations; the mapping retries them and then sends batch metadata to the failures queue.",
			namespace:   "AWS/Lambda", metric: "Errors", statistic: "Sum", dimensions: processor, period: 300,
		},
		{
			name:        "processor-throttles",
			description: "Processor invocations were throttled: reserved concurrency is below shards x parallelizationFactor, or the account limit is reached.",
			namespace:   "AWS/Lambda", metric: "Throttles", statistic: "Sum", dimensions: processor, period: 300,
		},
		{
			name:        "ingest-throttles",
			description: "Ingest requests were throttled (HTTP 429 to clients): raise streamfn:ingestConcurrency or the account limit.",
			namespace:   "AWS/Lambda", metric: "Throttles", statistic: "Sum", dimensions: ingest, period: 300,
		},
		{
			// The processor's EMF metrics: records it applied without the
			// Seen set able to vouch for them, or entries it dropped for the
			// item's size bound (README, "Exactly once: the guarantee").
			name:        "processor-outside-exactly-once",
			description: "The processor applied records outside the exactly-once guarantee (DedupUnverified) or dropped duplicate-detection state for an item's size (DedupEvicted). Its log names the users; see the README's 'Exactly once' section.",
			namespace:   cfg.MetricsNamespace, metric: "DedupUnverified", statistic: "Sum", dimensions: processor, period: 300,
		},
		{
			// The processor's EMF metric of events that hit a per-user cap
			// of the item (README, "Per-user caps"): a client filling one
			// user's categories, or pushing purchaseTotal to its bound.
			name:        "processor-user-caps",
			description: "Events hit a per-user cap of the feature item: a new category beyond 256 (counted under _other) or a purchase beyond purchaseTotal's range (poison queue). The processor's log names the users; see the README's 'Per-user caps'.",
			namespace:   cfg.MetricsNamespace, metric: "UserCapHits", statistic: "Sum", dimensions: processor, period: 300,
		},
		{
			name:        "poison-queue-depth",
			description: "Records the processor rejected are waiting in the poison queue, with their payloads and reasons.",
			namespace:   "AWS/SQS", metric: "ApproximateNumberOfMessagesVisible", statistic: "Maximum",
			dimensions: pulumi.StringMap{"QueueName": p.PoisonQueue.Name}, period: 300,
		},
	}
	if cfg.MappingMetrics {
		specs = append(specs, alarmSpec{
			// The mapping's own count of records it delivered to the on-failure destination
			// (its EventCount metrics, which the mapping turns on). It is per minute and per
			// record, and works for the bucket and the queue alike; the bucket's NumberOfObjects
			// is a daily storage metric, hours late, and S3 request metrics cost extra.
			name:        "failed-batches",
			description: "The mapping gave up on records and sent them to the on-failure destination (the failures bucket, or the failures queue with failureDestination sqs). List and replay them: make redrive ARGS=list, then ARGS=replay.",
			namespace:   "AWS/Lambda", metric: "OnFailureDestinationDeliveredEventCount", statistic: "Sum",
			dimensions: pulumi.StringMap{"EventSourceMappingUUID": p.Mapping.Uuid}, period: 60,
		})
	}
	if p.FailuresQueue != nil {
		specs = append(specs, alarmSpec{
			name:        "failures-queue-depth",
			description: "Batches the mapping gave up on are waiting in the failures queue: list and replay them with make redrive.",
			namespace:   "AWS/SQS", metric: "ApproximateNumberOfMessagesVisible", statistic: "Maximum",
			dimensions: pulumi.StringMap{"QueueName": p.FailuresQueue.Name}, period: 300,
		})
	}
	// An ON_DEMAND stream throttles too: writes above double its previous peak within 15
	// minutes, or above one shard's limits on a hot partition key
	// (https://docs.aws.amazon.com/streams/latest/dev/how-do-i-size-a-stream.html).
	throttled := "Writes to the stream exceeded its shards' capacity (1 MB/s or 1,000 records/s each): raise streamfn:shardCount."
	if cfg.StreamMode == config.StreamModeOnDemand {
		throttled = "Writes to the ON_DEMAND stream were throttled: traffic more than doubled its previous peak within 15 minutes, or one partition key (user) exceeded a shard's 1 MB/s or 1,000 records/s. Ingest retries, then answers 503."
	}
	specs = append(specs, alarmSpec{
		name: "stream-write-throttled", description: throttled,
		namespace: "AWS/Kinesis", metric: "WriteProvisionedThroughputExceeded", statistic: "Sum",
		dimensions: pulumi.StringMap{"StreamName": p.Stream.Name}, period: 300,
	})
	return specs
}

// newAlarmKey creates the customer key of the alarm topic. Its policy is AWS's default
// statement (the account administers the key through IAM; without it the key could never be
// managed again) plus use by CloudWatch on behalf of this account's alarms only.
func newAlarmKey(ctx *pulumi.Context, region string, opts ...pulumi.ResourceOption) (*kms.Key, error) {
	identity := aws.GetCallerIdentityOutput(ctx, aws.GetCallerIdentityOutputArgs{}, invokeOptions(opts)...)
	policy := pulumi.All(identity.AccountId(), identity.Arn()).ApplyT(func(v []any) (string, error) {
		return alarmKeyPolicy(v[0].(string), partitionOf(v[1].(string)), region).JSON()
	}).(pulumi.StringOutput)
	key, err := kms.NewKey(ctx, "alarms-key", &kms.KeyArgs{
		Description:       pulumi.Sprintf("streamfn %s: encrypts the alarm topic", ctx.Stack()),
		EnableKeyRotation: pulumi.Bool(true),
		Policy:            policy,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the alarm topic key: %w", err)
	}
	return key, nil
}

// alarmsOf is the ARN pattern of this account's CloudWatch alarms in the region: the
// aws:SourceArn CloudWatch presents when it publishes (or encrypts) for an alarm. Alarm
// names are Pulumi's auto-names, and the key and topic exist before the alarms, so the
// pattern cannot name them one by one.
func alarmsOf(account, partition, region string) string {
	return fmt.Sprintf("arn:%s:cloudwatch:%s:%s:alarm:*", partition, region, account)
}

func alarmKeyPolicy(account, partition, region string) PolicyDocument {
	return PolicyDocument{Version: policyVersion, Statement: []Statement{
		{
			Sid:       "AccountAdministersKeyThroughIAM",
			Effect:    "Allow",
			Principal: map[string]any{"AWS": fmt.Sprintf("arn:%s:iam::%s:root", partition, account)},
			// In a key policy "*" means this key. This is the statement AWS puts in every
			// default key policy; it delegates access to IAM policies in this account.
			Action:   []string{"kms:*"},
			Resource: []string{"*"},
		},
		{
			Sid:       "CloudWatchAlarmsPublish",
			Effect:    "Allow",
			Principal: map[string]any{"Service": "cloudwatch.amazonaws.com"},
			Action:    []string{actionKMSDecrypt, actionKMSGenerateDataKey},
			Resource:  []string{"*"},
			// Both, as AWS recommends against the confused deputy
			// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html).
			Condition: map[string]map[string]any{
				"StringEquals": {"aws:SourceAccount": account},
				"ArnLike":      {"aws:SourceArn": alarmsOf(account, partition, region)},
			},
		},
	}}
}

// alarmTopicPolicy replaces SNS's default topic policy, which lets every principal of the
// account publish: the account still administers and subscribes to the topic, and from
// outside IAM only CloudWatch alarms of this account and region may publish. (Principals of
// the account whose own IAM policies grant sns:Publish still can: same-account access is
// the union of both.)
func alarmTopicPolicy(account, partition, region, topicARN string) PolicyDocument {
	return PolicyDocument{Version: policyVersion, Statement: []Statement{
		{
			Sid:       "AccountManagesTopic",
			Effect:    "Allow",
			Principal: map[string]any{"AWS": fmt.Sprintf("arn:%s:iam::%s:root", partition, account)},
			Action: []string{"sns:AddPermission", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic",
				"sns:RemovePermission", "sns:SetTopicAttributes", "sns:Subscribe"},
			Resource: []string{topicARN},
		},
		{
			Sid:       "CloudWatchAlarmsPublish",
			Effect:    "Allow",
			Principal: map[string]any{"Service": "cloudwatch.amazonaws.com"},
			Action:    []string{"sns:Publish"},
			Resource:  []string{topicARN},
			Condition: map[string]map[string]any{
				"StringEquals": {"aws:SourceAccount": account},
				"ArnLike":      {"aws:SourceArn": alarmsOf(account, partition, region)},
			},
		},
	}}
}

// partitionOf reads the partition ("aws", "aws-cn", "aws-us-gov") from an ARN.
func partitionOf(resourceARN string) string {
	if a, err := arn.Parse(resourceARN); err == nil && a.Partition != "" {
		return a.Partition
	}
	return "aws"
}

// invokeOptions keeps the options that also apply to invokes (parent, provider), so an invoke
// runs with the component's explicit provider.
func invokeOptions(opts []pulumi.ResourceOption) []pulumi.InvokeOption {
	var out []pulumi.InvokeOption
	for _, o := range opts {
		if io, ok := o.(pulumi.InvokeOption); ok {
			out = append(out, io)
		}
	}
	return out
}
