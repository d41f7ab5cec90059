// Package lambdaapi serves Lambda's Invoke API for the local run's
// functions, so that aws-sdk-go-v2's lambda client (and the aws CLI) reach
// them through AWS_ENDPOINT_URL_LAMBDA exactly as they reach Lambda:
//
//	POST /2015-03-31/functions/{FunctionName}/invocations
//	GET  /2015-03-31/functions/{FunctionName}/configuration
//
// The function is named by its name, its ARN or a partial ARN, as Invoke
// allows (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html).
// Only synchronous invocations (RequestResponse, the default) and DryRun
// are served. A function error answers 200 with X-Amz-Function-Error, as
// Lambda does; a throttle answers 429 TooManyRequestsException. Requests
// are not signed-checked: IAM is not emulated.
package lambdaapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/streamfn/streamfn/internal/aws/lambdaquota"
	"github.com/streamfn/streamfn/internal/dev/local/lambdaenv"
)

// Invoker runs one synchronous invocation.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) (lambdaenv.Result, error)
}

// Function is one function the API serves.
type Function struct {
	Name     string
	ARN      string // arn:aws:lambda:<region>:<account>:function:<name>
	Role     string // its execution role's ARN
	Timeout  time.Duration
	MemoryMB int
	// Environment is its environment.variables, as the plan states them.
	Environment map[string]string
	Invoker     Invoker
}

// Handler is the API's http.Handler.
type Handler struct {
	functions map[string]Function // by name
}

// NewHandler serves the given functions.
func NewHandler(functions ...Function) *Handler {
	h := &Handler{functions: map[string]Function{}}
	for _, f := range functions {
		h.functions[f.Name] = f
	}
	return h
}

const prefix = "/2015-03-31/functions/"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), prefix)
	if !ok {
		writeError(w, http.StatusNotFound, "UnknownOperationException", fmt.Sprintf("the local run serves only Invoke and GetFunctionConfiguration (%s...), not %s %s", prefix, r.Method, r.URL.Path))
		return
	}
	escapedName, action, _ := strings.Cut(rest, "/")
	name, err := url.PathUnescape(escapedName)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidParameterValueException", "FunctionName: "+err.Error())
		return
	}
	f, qualifier, problem := h.find(name)
	if q := r.URL.Query().Get("Qualifier"); q != "" {
		qualifier = q
	}
	switch {
	case problem != "":
		writeError(w, http.StatusNotFound, "ResourceNotFoundException", problem)
		return
	case qualifier != "" && qualifier != "$LATEST":
		writeError(w, http.StatusNotFound, "ResourceNotFoundException", fmt.Sprintf("Function not found: %s:%s (the local run has only $LATEST)", f.ARN, qualifier))
		return
	}
	switch {
	case action == "invocations" && r.Method == http.MethodPost:
		h.invoke(w, r, f)
	case action == "configuration" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{
			"FunctionName": f.Name, "FunctionArn": f.ARN, "Role": f.Role, "Version": "$LATEST",
			"Runtime": "provided.al2023", "Handler": "bootstrap", "Timeout": int(f.Timeout / time.Second), "MemorySize": f.MemoryMB,
			"PackageType": "Zip", "State": "Active", "LastUpdateStatus": "Successful",
			"Environment": map[string]any{"Variables": f.Environment},
		})
	default:
		writeError(w, http.StatusNotFound, "UnknownOperationException", fmt.Sprintf("the local run serves POST .../invocations and GET .../configuration, not %s %s", r.Method, r.URL.Path))
	}
}

func (h *Handler) invoke(w http.ResponseWriter, r *http.Request, f Function) {
	switch t := r.Header.Get("X-Amz-Invocation-Type"); t {
	case "", "RequestResponse":
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		writeError(w, http.StatusBadRequest, "InvalidParameterValueException", fmt.Sprintf("InvocationType %q: the local run serves RequestResponse and DryRun only", t))
		return
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, lambdaquota.SyncInvocationPayloadBytes+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestContentException", "reading the payload: "+err.Error())
		return
	}
	if len(payload) > lambdaquota.SyncInvocationPayloadBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", lambdaquota.RequestTooLargeMessage)
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}") // what Lambda hands a function invoked without a payload
	}
	if !json.Valid(payload) {
		writeError(w, http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json: the payload is not JSON")
		return
	}
	ctx := r.Context()
	if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" {
		ctx = lambdaenv.WithClientContext(ctx, cc)
	}
	res, err := f.Invoker.Invoke(ctx, payload)
	switch {
	case errors.Is(err, lambdaenv.ErrThrottled):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "TooManyRequestsException", "Rate Exceeded.")
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "ServiceException", fmt.Sprintf("invoking %s: %v", f.Name, err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if res.FunctionError != "" {
		w.Header().Set("X-Amz-Function-Error", res.FunctionError)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.Payload)
}

// find resolves a FunctionName in the forms Lambda accepts: a name,
// name:qualifier, an ARN (arn:aws:lambda:region:account:function:name[:qualifier])
// or a partial ARN (account:function:name[:qualifier]).
func (h *Handler) find(name string) (Function, string, string) {
	fn, qualifier := name, ""
	full, err := arn.Parse(name)
	resource := strings.Split(full.Resource, ":") // function, name[, qualifier]
	parts := strings.Split(name, ":")
	switch {
	case err == nil && len(resource) >= 2:
		fn = resource[1]
		if len(resource) > 2 {
			qualifier = resource[2]
		}
	case len(parts) >= 3 && parts[1] == "function":
		fn = parts[2]
		if len(parts) > 3 {
			qualifier = parts[3]
		}
	case len(parts) == 2:
		fn, qualifier = parts[0], parts[1]
	}
	f, ok := h.functions[fn]
	if !ok {
		served := slices.Sorted(maps.Keys(h.functions))
		return Function{}, "", fmt.Sprintf("Function not found: %s (the local run serves %s)", name, strings.Join(served, ", "))
	}
	if strings.HasPrefix(name, "arn:") && name != f.ARN && !strings.HasPrefix(name, f.ARN+":") {
		return Function{}, "", fmt.Sprintf("Function not found: %s (the local run's function is %s)", name, f.ARN)
	}
	return f, qualifier, ""
}

// writeError answers as Lambda's REST-JSON API does: the error's type in
// X-Amzn-ErrorType and the body, which the SDKs read.
func writeError(w http.ResponseWriter, status int, errorType, message string) {
	w.Header().Set("X-Amzn-ErrorType", errorType)
	writeJSON(w, status, map[string]string{"Type": "User", "__type": errorType, "message": message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
