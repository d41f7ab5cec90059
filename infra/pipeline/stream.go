package pipeline

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kinesis"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/infra/names"
)

func newStream(ctx *pulumi.Context, cfg *config.Config, opts ...pulumi.ResourceOption) (*kinesis.Stream, error) {
	args := &kinesis.StreamArgs{
		RetentionPeriod:   pulumi.Int(cfg.RetentionHours),
		StreamModeDetails: &kinesis.StreamStreamModeDetailsArgs{StreamMode: pulumi.String(cfg.StreamMode)},
		EncryptionType:    pulumi.String("KMS"),
		KmsKeyId:          pulumi.String(streamKey(cfg)),
	}
	if cfg.StreamMode == config.StreamModeProvisioned {
		args.ShardCount = pulumi.Int(cfg.ShardCount)
	}
	// The stream holds the records not yet processed: with protectData, Pulumi refuses any
	// plan that would delete or replace it.
	stream, err := kinesis.NewStream(ctx, "stream", args, append(opts, pulumi.Protect(cfg.ProtectData))...)
	if err != nil {
		return nil, fmt.Errorf("creating the Kinesis stream: %w", err)
	}
	return stream, nil
}

func streamKey(cfg *config.Config) string {
	if cfg.KMSKeyID != "" {
		return cfg.KMSKeyID
	}
	return config.AWSManagedStreamKey
}

// checkedStreamARN is the stream's ARN once the deployed stream has been compared with the
// config. Kinesis refuses some changes only when the update runs (UpdateShardCount beyond
// double or half), and dropping a customer key would leave records the processor cannot
// decrypt; both are found here, during `pulumi preview` (and the preview that `pulumi up`
// runs first), by reading the deployed stream through the provider (kinesis.getStream).
//
// The stream's name is known in a preview only once the stream exists, so a first preview
// has nothing to compare with and skips the check. A read that fails for another reason (a
// preview role without kinesis:DescribeStreamSummary, ListShards or ListTagsForStream) warns and skips it: the check refuses
// steps AWS would reject, it never blocks an update on its own failure.
func checkedStreamARN(ctx *pulumi.Context, cfg *config.Config, stream *kinesis.Stream, opts ...pulumi.ResourceOption) pulumi.StringOutput {
	return pulumi.All(stream.Name, stream.Arn).ApplyT(func(v []any) (string, error) {
		name, arn := v[0].(string), v[1].(string)
		deployed, err := kinesis.LookupStream(ctx, &kinesis.LookupStreamArgs{Name: name}, invokeOptions(opts)...)
		if err != nil {
			if !strings.Contains(err.Error(), "not found") && !strings.Contains(err.Error(), "ResourceNotFound") {
				_ = ctx.Log.Warn(fmt.Sprintf("could not read the deployed stream %s, so shard-count and key changes are not checked before the update: %v", name, err), nil)
			}
			return arn, nil
		}
		var problems []config.Problem
		if p := cfg.CheckShardChange(len(deployed.OpenShards)); p != nil {
			problems = append(problems, *p)
		}
		if p := cfg.CheckKeyChange(deployed.KmsKeyId); p != nil {
			problems = append(problems, *p)
		}
		if len(problems) > 0 {
			return "", &config.ValidationError{Problems: problems}
		}
		return arn, nil
	}).(pulumi.StringOutput)
}

// newConsumer registers the enhanced fan-out consumer the mapping reads through.
func newConsumer(ctx *pulumi.Context, streamARN pulumi.StringOutput, opts ...pulumi.ResourceOption) (*kinesis.StreamConsumer, error) {
	consumer, err := kinesis.NewStreamConsumer(ctx, "processor-consumer", &kinesis.StreamConsumerArgs{
		// Consumer names are unique per stream only, so a fixed one is enough.
		Name:      pulumi.String(names.Consumer.Name(ctx.Project(), "processor")),
		StreamArn: streamARN,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("registering the enhanced fan-out consumer: %w", err)
	}
	return consumer, nil
}
