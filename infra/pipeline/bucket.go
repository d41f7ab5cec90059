package pipeline

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/streamfn/streamfn/infra/config"
)

// newFailureBucket creates the bucket of failed batches (the mapping's S3 on-failure
// destination: each record with the whole invocation payload, so the redrive tool can replay
// it) and of poison payloads too large for an SQS message. It is private and encrypted, keeps
// objects streamfn:failureRetentionDays, and is not versioned: an expired record must be gone.
func newFailureBucket(ctx *pulumi.Context, cfg *config.Config, opts ...pulumi.ResourceOption) (*s3.BucketV2, error) {
	// Autonamed "failures-<7 hex>": lowercase and valid for every stack name, and unique
	// across accounts, as bucket names must be.
	// Protected with the stream and the table (streamfn:protectData): it holds the only
	// copy of records the mapping gave up on.
	bucket, err := s3.NewBucketV2(ctx, "failures", &s3.BucketV2Args{
		ForceDestroy: pulumi.Bool(false),
	}, append(opts, pulumi.Protect(cfg.ProtectData))...)
	if err != nil {
		return nil, fmt.Errorf("creating the failures bucket: %w", err)
	}
	child := append(slices.Clone(opts), pulumi.DependsOn([]pulumi.Resource{bucket}))

	// SSE-S3, or the stack's customer key with an S3 Bucket Key (fewer KMS calls).
	sse := &s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
		SseAlgorithm: pulumi.String("AES256"),
	}
	if cfg.KMSKeyID != "" {
		sse = &s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
			SseAlgorithm:   pulumi.String("aws:kms"),
			KmsMasterKeyId: pulumi.String(cfg.KMSKeyID),
		}
	}
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, "failures-encryption", &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{&s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
			ApplyServerSideEncryptionByDefault: sse,
			BucketKeyEnabled:                   pulumi.Bool(cfg.KMSKeyID != ""),
		}},
	}, child...); err != nil {
		return nil, fmt.Errorf("encrypting the failures bucket: %w", err)
	}
	if _, err := s3.NewBucketPublicAccessBlock(ctx, "failures-public-access", &s3.BucketPublicAccessBlockArgs{
		Bucket:                bucket.ID(),
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, child...); err != nil {
		return nil, fmt.Errorf("blocking public access to the failures bucket: %w", err)
	}
	// ACLs off: the bucket owner owns every object, Lambda's included.
	if _, err := s3.NewBucketOwnershipControls(ctx, "failures-ownership", &s3.BucketOwnershipControlsArgs{
		Bucket: bucket.ID(),
		Rule:   &s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, child...); err != nil {
		return nil, fmt.Errorf("setting the failures bucket's object ownership: %w", err)
	}
	policy := bucket.Arn.ApplyT(func(arn string) (string, error) {
		return tlsOnlyBucketPolicy(arn).JSON()
	}).(pulumi.StringOutput)
	if _, err := s3.NewBucketPolicy(ctx, "failures-policy", &s3.BucketPolicyArgs{
		Bucket: bucket.ID(),
		Policy: policy,
	}, child...); err != nil {
		return nil, fmt.Errorf("creating the failures bucket's policy: %w", err)
	}
	if _, err := s3.NewBucketLifecycleConfigurationV2(ctx, "failures-lifecycle", &s3.BucketLifecycleConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketLifecycleConfigurationV2RuleArray{&s3.BucketLifecycleConfigurationV2RuleArgs{
			Id:     pulumi.String("expire-failures"),
			Status: pulumi.String("Enabled"),
			// Every object: failed batches and poison payloads alike.
			Filter:     &s3.BucketLifecycleConfigurationV2RuleFilterArgs{Prefix: pulumi.String("")},
			Expiration: &s3.BucketLifecycleConfigurationV2RuleExpirationArgs{Days: pulumi.Int(cfg.FailureRetentionDays)},
			AbortIncompleteMultipartUpload: &s3.BucketLifecycleConfigurationV2RuleAbortIncompleteMultipartUploadArgs{
				DaysAfterInitiation: pulumi.Int(1),
			},
		}},
	}, child...); err != nil {
		return nil, fmt.Errorf("setting the failures bucket's lifecycle: %w", err)
	}
	return bucket, nil
}

// tlsOnlyBucketPolicy denies every request to the bucket that does not use TLS, AWS's
// recommended guard (https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html).
func tlsOnlyBucketPolicy(bucketARN string) PolicyDocument {
	return PolicyDocument{Version: policyVersion, Statement: []Statement{{
		Sid:       "DenyInsecureTransport",
		Effect:    "Deny",
		Principal: map[string]any{"AWS": "*"},
		Action:    []string{"s3:*"},
		Resource:  []string{bucketARN, bucketARN + "/*"},
		Condition: map[string]map[string]any{"Bool": {"aws:SecureTransport": "false"}},
	}}}
}
