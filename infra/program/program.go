// Package program is the streamfn Pulumi program: it loads and validates the stack config,
// builds the functions, creates the pipeline and exports the stack outputs.
package program

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/streamfn/streamfn/infra/build"
	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/infra/pipeline"
)

// Functions are the function packages under functions/ that the program builds and ships.
var Functions = []string{"ingest", "processor"}

// Run is the program body for pulumi.Run. Configuration errors come back as
// *config.ValidationError before any resource is registered.
func Run(ctx *pulumi.Context) error {
	cfg, err := config.Load(ctx.GetConfig)
	if err != nil {
		var invalid *config.ValidationError
		if errors.As(err, &invalid) {
			invalid.Stack = ctx.Stack() // fixes then say pulumi config set --stack <stack>
		}
		return err
	}

	projectDir, err := build.ProjectDir(ctx.RootDirectory())
	if err != nil {
		return err
	}
	artifacts := map[string]build.Artifact{}
	for _, fn := range Functions {
		a, err := build.Function(build.Options{ProjectDir: projectDir, Function: fn, Architecture: cfg.Architecture})
		if err != nil {
			return err
		}
		artifacts[fn] = a
	}

	provider, err := aws.NewProvider(ctx, "aws", &aws.ProviderArgs{
		Region:      pulumi.String(cfg.Region),
		DefaultTags: &aws.ProviderDefaultTagsArgs{Tags: pulumi.ToStringMap(DefaultTags(ctx.Project(), ctx.Stack(), cfg))},
	})
	if err != nil {
		return fmt.Errorf("creating the AWS provider: %w", err)
	}

	p, err := pipeline.NewStreamPipeline(ctx, "pipeline", &pipeline.StreamPipelineArgs{
		Config:    cfg,
		Ingest:    artifacts["ingest"],
		Processor: artifacts["processor"],
	}, pulumi.Providers(provider))
	if err != nil {
		return err
	}

	for name, value := range p.Outputs() {
		ctx.Export(name, value)
	}
	return nil
}

// DefaultTags are the tags every resource gets through the provider: project, stack and the
// stack's streamfn:tags.
func DefaultTags(project, stack string, cfg *config.Config) map[string]string {
	tags := map[string]string{}
	for k, v := range cfg.Tags {
		tags[k] = v
	}
	tags["project"] = project
	tags["stack"] = stack
	return tags
}
