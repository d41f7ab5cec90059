package program_test

import (
	"encoding/json"
	"testing"

	"github.com/streamfn/streamfn/infra/pipeline"
)

// The failures bucket keeps failed batches with their payloads (personal data): private,
// encrypted, TLS only, expiring, not versioned.
func TestFailureBucket(t *testing.T) {
	for name, run := range map[string]struct {
		r   *result
		key string
	}{"dev": {devRun(t), ""}, "knobs (customer key)": {knobRun(t), customKey}} {
		r := run.r
		bucket := find(t, r, tBucket, "failures")
		id := bucket.ID
		for _, typ := range []string{tBucketSSE, tPublicBlock, tOwnership, tBucketPol, tLifecycle} {
			for _, reg := range r.monitor.Registrations() {
				if reg.Type == typ && reg.Inputs["bucket"] != id {
					t.Errorf("%s: %s %s applies to %v, not the failures bucket %v", name, typ, reg.Name, reg.Inputs["bucket"], id)
				}
			}
		}
		if got, _ := lookup(find(t, r, tFunction, "processor").Inputs, "environment.variables.POISON_PAYLOAD_BUCKET"); got != bucket.Outputs["bucket"] {
			t.Errorf("%s: the processor's poison payloads go to %v, want the failures bucket %v", name, got, bucket.Outputs["bucket"])
		}
		if bucket.Inputs["forceDestroy"] == true {
			t.Errorf("%s: forceDestroy would delete failed batches with the stack", name)
		}
		sse := find(t, r, tBucketSSE, "failures-encryption").Inputs
		algorithm, _ := lookup(sse, "rules.0.applyServerSideEncryptionByDefault.sseAlgorithm")
		keyID, _ := lookup(sse, "rules.0.applyServerSideEncryptionByDefault.kmsMasterKeyId")
		if run.key == "" && (algorithm != "AES256" || keyID != nil) || run.key != "" && (algorithm != "aws:kms" || keyID != run.key) {
			t.Errorf("%s: bucket encryption %v with key %v", name, algorithm, keyID)
		}
		block := find(t, r, tPublicBlock, "failures-public-access").Inputs
		for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
			if block[k] != true {
				t.Errorf("%s: public access block %s = %v", name, k, block[k])
			}
		}
		if got, _ := lookup(find(t, r, tOwnership, "failures-ownership").Inputs, "rule.objectOwnership"); got != "BucketOwnerEnforced" {
			t.Errorf("%s: object ownership %v", name, got)
		}
		var policy pipeline.PolicyDocument
		if err := json.Unmarshal([]byte(find(t, r, tBucketPol, "failures-policy").Inputs["policy"].(string)), &policy); err != nil {
			t.Fatal(err)
		}
		arn := bucket.Outputs["arn"].(string)
		if len(policy.Statement) != 1 {
			t.Fatalf("%s: bucket policy %+v", name, policy)
		}
		st := policy.Statement[0]
		if st.Effect != "Deny" || st.Condition["Bool"]["aws:SecureTransport"] != "false" || len(st.Resource) != 2 || st.Resource[0] != arn || st.Resource[1] != arn+"/*" {
			t.Errorf("%s: bucket policy does not deny non-TLS requests to the bucket and its objects: %+v", name, st)
		}
		lifecycle := find(t, r, tLifecycle, "failures-lifecycle").Inputs
		days, _ := lookup(lifecycle, "rules.0.expiration.days")
		status, _ := lookup(lifecycle, "rules.0.status")
		prefix, _ := lookup(lifecycle, "rules.0.filter.prefix")
		want := 14.0 // the default
		if name != "dev" {
			want = 30
		}
		if days != want || status != "Enabled" || prefix != "" {
			t.Errorf("%s: lifecycle expires after %v days (%v, prefix %q), want %v", name, days, status, prefix, want)
		}
		for _, reg := range r.monitor.Registrations() {
			if reg.Type == "aws:s3/bucketVersioningV2:BucketVersioningV2" {
				t.Errorf("%s: the failures bucket is versioned: an expired record would stay as a noncurrent version", name)
			}
		}
	}
}

// The failed-batches alarm watches the mapping's own delivery count.
func TestFailedBatchesAlarm(t *testing.T) {
	r := devRun(t)
	alarm := find(t, r, tAlarm, "failed-batches").Inputs
	uuid := find(t, r, tMapping, "processor-stream").Outputs["uuid"]
	if alarm["namespace"] != "AWS/Lambda" || alarm["metricName"] != "OnFailureDestinationDeliveredEventCount" {
		t.Errorf("failed-batches alarm watches %v/%v", alarm["namespace"], alarm["metricName"])
	}
	if got, _ := lookup(alarm, "dimensions.EventSourceMappingUUID"); got != uuid {
		t.Errorf("failed-batches alarm dimension %v, want the mapping %v", got, uuid)
	}
	if _, ok := r.monitor.Find(tAlarm, "failures-queue-depth"); ok {
		t.Error("with the failures bucket there is no failures queue to alarm on")
	}
	if _, ok := knobRun(t).monitor.Find(tAlarm, "failures-queue-depth"); !ok {
		t.Error("with failureDestination sqs the failures queue's depth alarms")
	}
}
