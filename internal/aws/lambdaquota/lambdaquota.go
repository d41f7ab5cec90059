// Package lambdaquota holds the Lambda quotas that more than one part of
// streamfn sizes against, each declared once with the AWS page that states
// it: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
// ("Lambda quotas").
package lambdaquota

import "strconv"

// SyncInvocationPayloadBytes is Lambda's "Invocation payload (request and
// response)" quota for synchronous invocations: the page says "6 MB each
// for request and response", and the Invoke API's refusal
// (RequestTooLargeMessage) shows it is 6 MiB, 6,291,456 bytes.
//
// It bounds the whole invocation event, not just the data inside it: a
// Function URL's event (headers, request context and the body, escaped or
// base64), and a Kinesis event source mapping's batch (each record's data
// in base64 plus its metadata), so the mapping cuts batches at it. Ingest
// refuses bodies over it, the local Function URL, Invoke API and mapping
// enforce it as Lambda does, the redrive tool replays no event over it, and
// the capacity planner sizes requests and batches within it.
const SyncInvocationPayloadBytes = 6 << 20

// RequestTooLargeMessage is the message of the Invoke API's
// RequestTooLargeException (HTTP 413) for a request payload over
// SyncInvocationPayloadBytes; a Function URL returns it too, as the JSON
// body's "Message", before the function runs. AWS does not document the
// text; it is the one Lambda returns for an oversized Invoke (measured in
// https://zaccharles.medium.com/deep-dive-lambdas-request-payload-size-limit-2-2-6350c1ae5577).
var RequestTooLargeMessage = "Request must be smaller than " + strconv.Itoa(SyncInvocationPayloadBytes) + " bytes for the InvokeFunction operation"
