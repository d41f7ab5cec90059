package pipeline

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kinesis"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/streamfn/streamfn/infra/config"
)

// awsManagedKinesisKey is the AWS-managed KMS key of Kinesis; using it needs no IAM grant.
const awsManagedKinesisKey = "alias/aws/kinesis"

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
	stream, err := kinesis.NewStream(ctx, "stream", args, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the Kinesis stream: %w", err)
	}
	return stream, nil
}

func streamKey(cfg *config.Config) string {
	if cfg.KMSKeyID != "" {
		return cfg.KMSKeyID
	}
	return awsManagedKinesisKey
}
