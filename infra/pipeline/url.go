package pipeline

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/streamfn/streamfn/infra/config"
)

// PublicURLWarning is logged on every run of a stack whose ingest URL takes unsigned requests.
const PublicURLWarning = "streamfn:ingestAuth is NONE: the ingest Function URL is public, so anyone on the internet can write events to the stream. " +
	"To require signed (SigV4) requests, run: pulumi config set streamfn:ingestAuth AWS_IAM"

// PublicURLPermission is the logical name of the permission that opens the URL to everyone.
const PublicURLPermission = "ingest-url-public"

// newIngestURL exposes ingest over HTTPS. AWS_IAM needs no resource policy for callers in this
// account (their own IAM policy grants lambda:InvokeFunctionUrl); NONE needs a public grant.
func newIngestURL(ctx *pulumi.Context, cfg *config.Config, ingest *Function, opts ...pulumi.ResourceOption) (*lambda.FunctionUrl, error) {
	url, err := lambda.NewFunctionUrl(ctx, "ingest-url", &lambda.FunctionUrlArgs{
		FunctionName:      ingest.Function.Name,
		Qualifier:         ingest.Qualifier(),
		AuthorizationType: pulumi.String(cfg.IngestAuth),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the ingest Function URL: %w", err)
	}
	if cfg.IngestAuth != config.IngestAuthNone {
		return url, nil
	}

	if err := ctx.Log.Warn(PublicURLWarning, nil); err != nil {
		return nil, fmt.Errorf("warning about the public ingest URL: %w", err)
	}
	_, err = lambda.NewPermission(ctx, PublicURLPermission, &lambda.PermissionArgs{
		Function:            ingest.Function.Name,
		Qualifier:           ingest.Qualifier(),
		Action:              pulumi.String("lambda:InvokeFunctionUrl"),
		Principal:           pulumi.String("*"),
		FunctionUrlAuthType: pulumi.String(config.IngestAuthNone),
		StatementId:         pulumi.String("PublicFunctionUrl"),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the public ingest URL permission: %w", err)
	}
	return url, nil
}
