package pipeline

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dynamodb"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/streamfn/streamfn/infra/config"
)

// The table's key and TTL attribute are part of the contract with the processor and with
// every tool that reads features.
const (
	featuresHashKey = "userId"
	featuresTTLAttr = "expiresAt"
)

func newFeaturesTable(ctx *pulumi.Context, cfg *config.Config, opts ...pulumi.ResourceOption) (*dynamodb.Table, error) {
	table, err := dynamodb.NewTable(ctx, "features", &dynamodb.TableArgs{
		BillingMode: pulumi.String("PAY_PER_REQUEST"),
		HashKey:     pulumi.String(featuresHashKey),
		Attributes: dynamodb.TableAttributeArray{
			&dynamodb.TableAttributeArgs{Name: pulumi.String(featuresHashKey), Type: pulumi.String("S")},
		},
		Ttl: &dynamodb.TableTtlArgs{
			AttributeName: pulumi.String(featuresTTLAttr),
			Enabled:       pulumi.Bool(true),
		},
		// Enabled without a key ARN: the AWS-managed key alias/aws/dynamodb.
		ServerSideEncryption: &dynamodb.TableServerSideEncryptionArgs{Enabled: pulumi.Bool(true)},
		PointInTimeRecovery:  &dynamodb.TablePointInTimeRecoveryArgs{Enabled: pulumi.Bool(true)},
		// Two locks with protectData: DynamoDB refuses DeleteTable from anyone (the console
		// and the CLI included), and Pulumi refuses a plan that deletes or replaces the table.
		DeletionProtectionEnabled: pulumi.Bool(cfg.ProtectData),
	}, append(opts, pulumi.Protect(cfg.ProtectData))...)
	if err != nil {
		return nil, fmt.Errorf("creating the features table: %w", err)
	}
	return table, nil
}
