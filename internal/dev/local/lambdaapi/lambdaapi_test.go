package lambdaapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/streamfn/streamfn/internal/aws/lambdaquota"
	"github.com/streamfn/streamfn/internal/dev/local/lambdaenv"
)

type fakeInvoker struct {
	got  []byte
	res  lambdaenv.Result
	err  error
	seen int
}

func (f *fakeInvoker) Invoke(_ context.Context, payload []byte) (lambdaenv.Result, error) {
	f.seen++
	f.got = payload
	return f.res, f.err
}

const functionARN = "arn:aws:lambda:eu-west-1:123456789012:function:processor-5e"

func client(t *testing.T, inv *fakeInvoker) *lambda.Client {
	srv := httptest.NewServer(NewHandler(Function{Name: "processor-5e", ARN: functionARN, Role: "arn:aws:iam::123456789012:role/r", Timeout: time.Minute, MemoryMB: 256, Invoker: inv}))
	t.Cleanup(srv.Close)
	return lambda.New(lambda.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		Retryer:     aws.NopRetryer{},
	})
}

// aws-sdk-go-v2's lambda client talks to the local API as it talks to
// Lambda: the payload goes in, the function's response and its
// X-Amz-Function-Error come back, and errors have Lambda's types.
func TestTheSDKInvokesThroughTheLocalAPI(t *testing.T) {
	ctx := t.Context()
	inv := &fakeInvoker{res: lambdaenv.Result{Payload: []byte(`{"batchItemFailures":[]}`)}}
	c := client(t, inv)
	for _, name := range []string{"processor-5e", functionARN, "123456789012:function:processor-5e", "processor-5e:$LATEST",
		functionARN + ":$LATEST", "123456789012:function:processor-5e:$LATEST"} {
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"Records":[]}`)})
		if err != nil {
			t.Fatalf("Invoke %s: %v", name, err)
		}
		if out.StatusCode != 200 || string(out.Payload) != `{"batchItemFailures":[]}` || out.FunctionError != nil || aws.ToString(out.ExecutedVersion) != "$LATEST" {
			t.Fatalf("Invoke %s = %d %q %v", name, out.StatusCode, out.Payload, out.FunctionError)
		}
		if string(inv.got) != `{"Records":[]}` {
			t.Fatalf("the function got %q", inv.got)
		}
	}

	inv.res = lambdaenv.Result{Payload: []byte(`{"errorMessage":"boom","errorType":"Runtime.ExitError"}`), FunctionError: "Unhandled"}
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("processor-5e"), Payload: []byte(`{}`)})
	if err != nil || aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "boom") {
		t.Fatalf("a function error: %v, %+v", err, out)
	}

	inv.err = lambdaenv.ErrThrottled
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("processor-5e"), Payload: []byte(`{}`)})
	var throttled *types.TooManyRequestsException
	if !errors.As(err, &throttled) {
		t.Fatalf("a throttle: %v, want TooManyRequestsException", err)
	}
	inv.err = nil

	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("ingest"), Payload: []byte(`{}`)})
	var missing *types.ResourceNotFoundException
	if !errors.As(err, &missing) || !strings.Contains(err.Error(), "processor-5e") {
		t.Fatalf("an unknown function: %v, want ResourceNotFoundException naming the served ones", err)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("arn:aws:lambda:us-east-1:999999999999:function:processor-5e"), Payload: []byte(`{}`)})
	if !errors.As(err, &missing) {
		t.Fatalf("another account's ARN: %v, want ResourceNotFoundException", err)
	}
	for _, name := range []string{functionARN + ":live", "123456789012:function:processor-5e:live", "processor-5e:live"} {
		_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{}`)})
		if !errors.As(err, &missing) || !strings.Contains(err.Error(), functionARN+":live (the local run has only $LATEST)") {
			t.Fatalf("Invoke %s: %v, want ResourceNotFoundException for the qualifier live", name, err)
		}
	}

	before := inv.seen
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("processor-5e"), Payload: make([]byte, lambdaquota.SyncInvocationPayloadBytes+1)})
	var tooLarge *types.RequestTooLargeException
	if !errors.As(err, &tooLarge) || inv.seen != before {
		t.Fatalf("a payload over 6 MB: %v (invoked %d times), want RequestTooLargeException", err, inv.seen-before)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("processor-5e"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)})
	var invalid *types.InvalidParameterValueException
	if !errors.As(err, &invalid) {
		t.Fatalf("an Event invocation: %v, want InvalidParameterValueException", err)
	}
	if out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("processor-5e"), InvocationType: types.InvocationTypeDryRun}); err != nil || out.StatusCode != http.StatusNoContent || inv.seen != before {
		t.Fatalf("DryRun: %v, %+v", err, out)
	}

	conf, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(functionARN)})
	if err != nil || aws.ToString(conf.Role) != "arn:aws:iam::123456789012:role/r" || aws.ToString(conf.FunctionArn) != functionARN || aws.ToInt32(conf.Timeout) != 60 {
		t.Fatalf("GetFunctionConfiguration: %v, %+v", err, conf)
	}
}
