package pipeline

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PolicyDocument is an IAM policy. Documents are built as Go values and marshalled, so they
// can be read, diffed and tested offline.
type PolicyDocument struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one IAM policy statement.
type Statement struct {
	Sid       string                    `json:"Sid,omitempty"`
	Effect    string                    `json:"Effect"`
	Principal map[string]any            `json:"Principal,omitempty"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource,omitempty"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

const policyVersion = "2012-10-17"

// The IAM actions the program grants. Each must be in KnownActions.
const (
	actionAssumeRole = "sts:AssumeRole"

	// What Lambda's Kinesis poller calls with the processor's role, per the Lambda developer
	// guide. kinesis:ListStreams is left out (it cannot be scoped to a stream and a mapping
	// by stream ARN does not need it). SubscribeToShard and DescribeStreamConsumer are for
	// enhanced fan-out only, and then on exactly the mapping's consumer: their IAM resource
	// type is the consumer, not the stream (Service Authorization Reference, Amazon Kinesis).
	actionKinesisDescribeStream        = "kinesis:DescribeStream"
	actionKinesisDescribeStreamSummary = "kinesis:DescribeStreamSummary"
	actionKinesisGetRecords            = "kinesis:GetRecords"
	actionKinesisGetShardIterator      = "kinesis:GetShardIterator"
	actionKinesisListShards            = "kinesis:ListShards"
	actionKinesisSubscribeToShard      = "kinesis:SubscribeToShard"
	actionKinesisDescribeConsumer      = "kinesis:DescribeStreamConsumer"

	actionKinesisPutRecord  = "kinesis:PutRecord"
	actionKinesisPutRecords = "kinesis:PutRecords"

	// Only with a customer key: the AWS-managed alias/aws/kinesis needs no IAM grant.
	actionKMSDecrypt         = "kms:Decrypt"
	actionKMSGenerateDataKey = "kms:GenerateDataKey"

	// The processor reads a batch's users with BatchGetItem and writes each back with one
	// conditional PutItem (internal/aws/store); it needs nothing else on the table.
	actionDynamoDBBatchGetItem = "dynamodb:BatchGetItem"
	actionDynamoDBPutItem      = "dynamodb:PutItem"

	// Also covers SendMessageBatch, which has no IAM action of its own. Lambda sends the
	// mapping's on-failure records to the failures queue with the processor's role.
	actionSQSSendMessage = "sqs:SendMessage"

	// An S3 on-failure destination: Lambda lists the bucket and writes each record with the
	// processor's role, which also writes oversized poison payloads
	// (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html).
	actionS3PutObject  = "s3:PutObject"
	actionS3ListBucket = "s3:ListBucket"

	actionLogsCreateLogStream = "logs:CreateLogStream"
	actionLogsPutLogEvents    = "logs:PutLogEvents"
)

// KnownActions lists real actions of each service the program touches, from the AWS Service
// Authorization Reference. A test checks every granted action against it, which catches typos
// such as "kinesis:GetRecord" that IAM would accept silently and that then fail at run time.
var KnownActions = map[string][]string{
	"kinesis": {
		"AddTagsToStream", "CreateStream", "DecreaseStreamRetentionPeriod", "DeleteStream",
		"DeregisterStreamConsumer", "DescribeLimits", "DescribeStream", "DescribeStreamConsumer",
		"DescribeStreamSummary", "DisableEnhancedMonitoring", "EnableEnhancedMonitoring",
		"GetRecords", "GetShardIterator", "IncreaseStreamRetentionPeriod", "ListShards",
		"ListStreamConsumers", "ListStreams", "ListTagsForStream", "MergeShards", "PutRecord",
		"PutRecords", "RegisterStreamConsumer", "RemoveTagsFromStream", "SplitShard",
		"StartStreamEncryption", "StopStreamEncryption", "SubscribeToShard", "UpdateShardCount",
		"UpdateStreamMode",
	},
	"dynamodb": {
		"BatchGetItem", "BatchWriteItem", "ConditionCheckItem", "DeleteItem", "DescribeTable",
		"GetItem", "PutItem", "Query", "Scan", "UpdateItem",
	},
	"sqs": {
		"ChangeMessageVisibility", "DeleteMessage", "GetQueueAttributes", "GetQueueUrl",
		"ReceiveMessage", "SendMessage",
	},
	"logs": {"CreateLogGroup", "CreateLogStream", "DescribeLogStreams", "PutLogEvents"},
	"kms": {
		"Decrypt", "DescribeKey", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
		"ReEncryptFrom", "ReEncryptTo",
	},
	"s3": {
		"DeleteObject", "GetObject", "ListBucket", "PutObject",
	},
	"sts": {"AssumeRole"},
	"sns": {
		"AddPermission", "DeleteTopic", "GetTopicAttributes", "ListSubscriptionsByTopic", "Publish",
		"RemovePermission", "SetTopicAttributes", "Subscribe",
	},
}

// IsKnownAction reports whether action ("service:Name") is in KnownActions.
func IsKnownAction(action string) bool {
	service, name, ok := strings.Cut(action, ":")
	return ok && slices.Contains(KnownActions[service], name)
}

// lambdaTrustPolicy lets the Lambda service assume a function's role.
func lambdaTrustPolicy() PolicyDocument {
	return PolicyDocument{
		Version: policyVersion,
		Statement: []Statement{{
			Effect:    "Allow",
			Principal: map[string]any{"Service": "lambda.amazonaws.com"},
			Action:    []string{actionAssumeRole},
		}},
	}
}

// logStreamsARN is the IAM form of a log group's ARN that covers its log streams, the
// resource type of PutLogEvents. The CloudWatch Logs guide documents this trailing ":*" as the
// log group ARN to use in IAM policies; it reaches this one group and nothing else.
func logStreamsARN(logGroupARN string) string {
	return logGroupARN + ":*"
}

// processorResources are the exact ARNs the processor's role may touch.
type processorResources struct {
	StreamARN, TableARN, PoisonQueueARN, LogGroupARN string
	// FailuresQueueARN is the on-failure destination with failureDestination sqs, else "".
	FailuresQueueARN string
	// FailureBucketARN holds failed batches (failureDestination s3) and oversized poison
	// payloads; Account owns it.
	FailureBucketARN, Account string
	StreamKeyARN              string // "" with the AWS-managed key
	// RetiredKeyARNs are keys the stream used before (streamfn:retiredKmsKeyIds).
	RetiredKeyARNs []string
	// ConsumerARN is the enhanced fan-out consumer the mapping reads through, "" for shared.
	ConsumerARN string
}

func processorPolicy(r processorResources) PolicyDocument {
	doc := PolicyDocument{Version: policyVersion, Statement: []Statement{
		{
			Sid:    "ReadThisStream",
			Effect: "Allow",
			Action: []string{
				actionKinesisDescribeStream, actionKinesisDescribeStreamSummary,
				actionKinesisGetRecords, actionKinesisGetShardIterator, actionKinesisListShards,
			},
			Resource: []string{r.StreamARN},
		},
		{
			Sid:    "KeepFeatures",
			Effect: "Allow",
			Action: []string{
				actionDynamoDBBatchGetItem, actionDynamoDBPutItem,
			},
			Resource: []string{r.TableARN},
		},
		{
			Sid:      "SendPoison",
			Effect:   "Allow",
			Action:   []string{actionSQSSendMessage},
			Resource: []string{r.PoisonQueueARN},
		},
		ownLogsStatement(r.LogGroupARN),
	}}
	if r.FailuresQueueARN != "" {
		doc.Statement = append(doc.Statement, Statement{
			Sid:      "SendFailedBatches",
			Effect:   "Allow",
			Action:   []string{actionSQSSendMessage},
			Resource: []string{r.FailuresQueueARN},
		})
	}
	// AWS's guard against bucket-name squatting: should the bucket ever be deleted and its
	// name taken by another account, nothing is written there.
	inThisAccount := map[string]map[string]any{"StringEquals": {"s3:ResourceAccount": r.Account}}
	doc.Statement = append(doc.Statement, Statement{
		Sid:       "WriteFailureObjects",
		Effect:    "Allow",
		Action:    []string{actionS3PutObject},
		Resource:  []string{r.FailureBucketARN + "/*"},
		Condition: inThisAccount,
	})
	if r.FailuresQueueARN == "" {
		doc.Statement = append(doc.Statement, Statement{
			Sid:       "ListFailureBucket",
			Effect:    "Allow",
			Action:    []string{actionS3ListBucket},
			Resource:  []string{r.FailureBucketARN},
			Condition: inThisAccount,
		})
	}
	if r.ConsumerARN != "" {
		doc.Statement = append(doc.Statement, Statement{
			Sid:      "ReadThroughThisConsumer",
			Effect:   "Allow",
			Action:   []string{actionKinesisDescribeConsumer, actionKinesisSubscribeToShard},
			Resource: []string{r.ConsumerARN},
		})
	}
	// Records stay encrypted under the key that wrote them until they expire, so the
	// processor keeps kms:Decrypt on retired keys too.
	var keys []string
	if r.StreamKeyARN != "" {
		keys = append(keys, r.StreamKeyARN)
	}
	keys = append(keys, r.RetiredKeyARNs...)
	if len(keys) > 0 {
		doc.Statement = append(doc.Statement, Statement{
			Sid:       "DecryptStreamRecords",
			Effect:    "Allow",
			Action:    []string{actionKMSDecrypt},
			Resource:  keys,
			Condition: viaService(r.StreamARN, "kinesis", "s3"),
		})
	}
	if r.StreamKeyARN != "" {
		doc.Statement = append(doc.Statement, Statement{
			// The bucket is encrypted with the stream's key: writing an object needs a data key.
			Sid:       "EncryptFailureObjects",
			Effect:    "Allow",
			Action:    []string{actionKMSGenerateDataKey},
			Resource:  []string{r.StreamKeyARN},
			Condition: viaService(r.StreamARN, "s3"),
		})
	}
	return doc
}

// ownLogsStatement lets a function write the streams of its own log group.
func ownLogsStatement(logGroupARN string) Statement {
	return Statement{
		Sid:      "WriteOwnLogs",
		Effect:   "Allow",
		Action:   []string{actionLogsCreateLogStream, actionLogsPutLogEvents},
		Resource: []string{logStreamsARN(logGroupARN)},
	}
}

// ingestResources are the exact ARNs the ingest function's role may touch.
type ingestResources struct {
	StreamARN, LogGroupARN string
	StreamKeyARN           string // "" with the AWS-managed key
}

func ingestPolicy(r ingestResources) PolicyDocument {
	doc := PolicyDocument{Version: policyVersion, Statement: []Statement{
		{
			Sid:      "WriteThisStream",
			Effect:   "Allow",
			Action:   []string{actionKinesisPutRecord, actionKinesisPutRecords},
			Resource: []string{r.StreamARN},
		},
		ownLogsStatement(r.LogGroupARN),
	}}
	if r.StreamKeyARN != "" {
		doc.Statement = append(doc.Statement, Statement{
			Sid:       "EncryptStreamRecords",
			Effect:    "Allow",
			Action:    []string{actionKMSGenerateDataKey},
			Resource:  []string{r.StreamKeyARN},
			Condition: viaService(r.StreamARN, "kinesis"),
		})
	}
	return doc
}

// viaService limits a KMS grant to requests that the named services (Kinesis, S3) make on
// the role's behalf in the stream's region, so the role's credentials cannot use the key
// directly (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service).
// Kinesis encrypts records and S3 objects with the key while serving the function's own calls.
func viaService(streamARN string, services ...string) map[string]map[string]any {
	region, suffix := "", ".amazonaws.com"
	if stream, err := arn.Parse(streamARN); err == nil {
		region = stream.Region
		if stream.Partition == "aws-cn" {
			suffix = ".amazonaws.com.cn"
		}
	}
	endpoints := make([]string, len(services))
	for i, s := range services {
		endpoints[i] = s + "." + region + suffix
	}
	return map[string]map[string]any{"StringEquals": {"kms:ViaService": endpoints}}
}

// JSON renders the document as IAM expects it.
func (d PolicyDocument) JSON() (string, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("encoding policy document: %w", err)
	}
	return string(b), nil
}

// newRole creates a function's execution role and its one inline policy.
func newRole(ctx *pulumi.Context, function string, policy pulumi.StringOutput, opts ...pulumi.ResourceOption) (*iam.Role, *iam.RolePolicy, error) {
	trust, err := lambdaTrustPolicy().JSON()
	if err != nil {
		return nil, nil, err
	}
	role, err := iam.NewRole(ctx, function+"-role", &iam.RoleArgs{
		Description:      pulumi.Sprintf("Execution role of the streamfn %s function (%s)", function, ctx.Stack()),
		AssumeRolePolicy: pulumi.String(trust),
	}, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the %s role: %w", function, err)
	}
	rolePolicy, err := iam.NewRolePolicy(ctx, function+"-policy", &iam.RolePolicyArgs{
		Role:   role.Name,
		Policy: policy,
	}, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the %s role policy: %w", function, err)
	}
	return role, rolePolicy, nil
}
