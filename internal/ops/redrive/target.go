package redrive

import (
	"errors"

	"github.com/streamfn/streamfn/infra/pipeline"
	"github.com/streamfn/streamfn/internal/ops/stackoutputs"
)

// TargetFromOutputs names the pipeline's resources from its stack
// outputs. The failure bucket is the on-failure destination when the
// stack has one; else the failures queue (failureDestination sqs).
func TargetFromOutputs(stack, source string, o stackoutputs.Outputs) (Target, error) {
	t := Target{Stack: stack, Source: source}
	var errs []error
	var err error
	if t.StreamName, err = o.String(pipeline.OutputStreamName); err != nil {
		errs = append(errs, err)
	}
	if t.StreamARN, err = o.String(pipeline.OutputStreamARN); err != nil {
		errs = append(errs, err)
	}
	if t.Processor, err = o.String(pipeline.OutputProcessorFunctionName); err != nil {
		errs = append(errs, err)
	}
	optional := func(name string) string {
		s, _ := o[name].(string)
		return s
	}
	t.PoisonQueueURL = optional(pipeline.OutputPoisonQueueURL)
	if t.Bucket = optional(pipeline.OutputFailureBucketName); t.Bucket == "" {
		t.FailuresQueueURL = optional(pipeline.OutputFailuresQueueURL)
	}
	if t.Bucket == "" && t.FailuresQueueURL == "" {
		errs = append(errs, ErrNoDestination)
	}
	return t, errors.Join(errs...)
}
