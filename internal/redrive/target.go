package redrive

import (
	"errors"

	"github.com/streamfn/streamfn/internal/stackoutputs"
)

// The stack outputs the tool reads (infra/program exports them).
const (
	FailureBucketOutput = "failureBucketName"
	FailuresQueueOutput = "failuresQueueUrl"
	PoisonQueueOutput   = "poisonQueueUrl"
)

// TargetFromOutputs names the pipeline's resources from its stack
// outputs. The failure bucket is the on-failure destination when the
// stack has one; else the failures queue (failureDestination sqs).
func TargetFromOutputs(stack, source string, o stackoutputs.Outputs) (Target, error) {
	t := Target{Stack: stack, Source: source}
	var errs []error
	var err error
	if t.StreamName, err = o.String("streamName"); err != nil {
		errs = append(errs, err)
	}
	if t.StreamARN, err = o.String("streamArn"); err != nil {
		errs = append(errs, err)
	}
	if t.Processor, err = o.String("processorFunctionName"); err != nil {
		errs = append(errs, err)
	}
	optional := func(name string) string {
		s, _ := o[name].(string)
		return s
	}
	t.PoisonQueueURL = optional(PoisonQueueOutput)
	if t.Bucket = optional(FailureBucketOutput); t.Bucket == "" {
		t.FailuresQueueURL = optional(FailuresQueueOutput)
	}
	if t.Bucket == "" && t.FailuresQueueURL == "" {
		errs = append(errs, ErrNoDestination)
	}
	return t, errors.Join(errs...)
}
