package program_test

import (
	"encoding/json"
	"testing"

	"github.com/streamfn/streamfn/infra/pipeline"
)

// Each queue refuses requests without TLS, as the failures bucket does,
// and the poison queue, which holds payloads, keeps them for
// streamfn:poisonRetentionDays (default 4 days), not SQS's maximum.
func TestQueuesAreTLSOnlyWithABoundedRetention(t *testing.T) {
	for name, run := range map[string]func(*testing.T) *result{"dev": devRun, "knobs": knobRun} {
		r := run(t)
		queues := []string{"poison"}
		if name == "knobs" {
			queues = append(queues, "failures")
		}
		for _, q := range queues {
			queue := find(t, r, tQueue, q)
			var policy pipeline.PolicyDocument
			if err := json.Unmarshal([]byte(find(t, r, tQueuePol, q+"-policy").Inputs["policy"].(string)), &policy); err != nil {
				t.Fatal(err)
			}
			arn := queue.Outputs["arn"].(string)
			if len(policy.Statement) != 1 {
				t.Fatalf("%s: %s queue policy %+v", name, q, policy)
			}
			st := policy.Statement[0]
			if st.Effect != "Deny" || st.Condition["Bool"]["aws:SecureTransport"] != "false" || len(st.Resource) != 1 || st.Resource[0] != arn ||
				len(st.Action) != 1 || st.Action[0] != "sqs:*" {
				t.Errorf("%s: %s queue policy does not deny non-TLS requests to the queue: %+v", name, q, st)
			}
			if got := find(t, r, tQueuePol, q+"-policy").Inputs["queueUrl"]; got != queue.Outputs["url"] {
				t.Errorf("%s: %s queue policy is on %v, want %v", name, q, got, queue.Outputs["url"])
			}
		}
	}
	if got := find(t, devRun(t), tQueue, "poison").Inputs["messageRetentionSeconds"]; got != 4*24*3600.0 {
		t.Errorf("dev poison queue keeps messages %v s, want the 4-day default", got)
	}
}
