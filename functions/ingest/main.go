// Command ingest is the streamfn ingest Lambda function. It builds to bootstrap
// for the provided.al2023 runtime.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(`{}`), nil
	})
}
