// Command fakefn is a tiny Lambda function for the pool's tests: its event
// says whether to sleep, fail, crash or echo the environment.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type request struct {
	SleepMs int    `json:"sleepMs"`
	Crash   bool   `json:"crash"`
	Error   string `json:"error"`
	Env     string `json:"env"`
}

type response struct {
	Pid int    `json:"pid"`
	Env string `json:"env,omitempty"`
}

func main() {
	lambda.Start(func(ctx context.Context, req request) (response, error) {
		if req.Crash {
			os.Exit(3)
		}
		if req.Error != "" {
			return response{}, errors.New(req.Error)
		}
		time.Sleep(time.Duration(req.SleepMs) * time.Millisecond)
		return response{Pid: os.Getpid(), Env: os.Getenv(req.Env)}, nil
	})
}
