package program_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/streamfn/streamfn/infra/mocks"
	"github.com/streamfn/streamfn/infra/pipeline"
)

// policyOf parses a policy document the program passed as a JSON string.
func policyOf(t *testing.T, reg mocks.Registration, input string) pipeline.PolicyDocument {
	t.Helper()
	s, ok := reg.Inputs[input].(string)
	if !ok {
		t.Fatalf("%s %s: %s is %T, want a JSON string", reg.Type, reg.Name, input, reg.Inputs[input])
	}
	var doc pipeline.PolicyDocument
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s %s: %s is not a policy document: %v\n%s", reg.Type, reg.Name, input, err, s)
	}
	if doc.Version != "2012-10-17" {
		t.Errorf("%s %s: policy version %q", reg.Type, reg.Name, doc.Version)
	}
	return doc
}

// stackARNs are the ARNs a role may name: those of this stack's resources, the log groups in
// their IAM form for log streams, and the customer key from config.
func stackARNs(r *result, extra ...string) map[string]bool {
	arns := map[string]bool{}
	for _, reg := range r.monitor.Registrations() {
		arn, _ := reg.Outputs["arn"].(string)
		switch reg.Type {
		case tStream, tTable, tQueue, tConsumer:
			arns[arn] = true
		case tLogGroup:
			arns[arn+":*"] = true
		case tBucket:
			// The bucket, and its objects in the form S3 documents for them.
			arns[arn], arns[arn+"/*"] = true, true
		}
	}
	for _, e := range extra {
		arns[e] = true
	}
	return arns
}

func TestRolePolicies(t *testing.T) {
	runs := map[string]struct {
		r   *result
		key string
	}{
		"dev":                  {devRun(t), ""},
		"prod":                 {prodRun(t), ""},
		"knobs (customer key)": {knobRun(t), customKey},
	}
	for name, run := range runs {
		t.Run(name, func(t *testing.T) {
			allowed := stackARNs(run.r)
			if run.key != "" {
				allowed[run.key] = true
				allowed[retiredKey] = true
			}
			usedKey := false
			for _, policyName := range []string{"ingest-policy", "processor-policy"} {
				reg := find(t, run.r, tRolePolicy, policyName)
				role := strings.TrimSuffix(policyName, "-policy") + "-role"
				if reg.Inputs["role"] != find(t, run.r, tRole, role).Outputs["name"] {
					t.Errorf("%s is attached to %v, want %s", policyName, reg.Inputs["role"], role)
				}
				for _, st := range policyOf(t, reg, "policy").Statement {
					if st.Effect != "Allow" || st.Principal != nil || (st.Condition != nil && !isS3InThisAccount(st) && !isKMSViaService(st)) {
						t.Errorf("%s %s: unexpected statement shape %+v", policyName, st.Sid, st)
					}
					if strings.HasPrefix(st.Action[0], "kms:") && !isKMSViaService(st) {
						t.Errorf("%s %s: a KMS grant without a kms:ViaService condition: %+v", policyName, st.Sid, st)
					}
					for _, action := range st.Action {
						if strings.Contains(action, "*") || !pipeline.IsKnownAction(action) {
							t.Errorf("%s %s: action %q is a wildcard or not a real action", policyName, st.Sid, action)
						}
					}
					if len(st.Resource) == 0 {
						t.Errorf("%s %s: no resource", policyName, st.Sid)
					}
					for _, res := range st.Resource {
						if !allowed[res] {
							t.Errorf("%s %s: resource %q is not an ARN of this stack", policyName, st.Sid, res)
						}
						bucketObjects := strings.HasPrefix(res, "arn:aws:s3:::") && strings.HasSuffix(res, "/*")
						if bucketObjects {
							res = strings.TrimSuffix(res, "/*")
						}
						if strings.Contains(strings.TrimSuffix(res, ":*"), "*") || (strings.HasSuffix(res, ":*") && !strings.Contains(res, ":log-group:")) {
							t.Errorf("%s %s: resource %q has a wildcard", policyName, st.Sid, res)
						}
						usedKey = usedKey || res == run.key
					}
				}
			}
			if run.key != "" && !usedKey {
				t.Errorf("with customer key %s neither role may use it", run.key)
			}
		})
	}
}

// isS3InThisAccount reports whether st is an S3 statement conditioned on exactly the stack's
// account owning the bucket: AWS's guard against bucket-name squatting.
func isS3InThisAccount(st pipeline.Statement) bool {
	for _, a := range st.Action {
		if !strings.HasPrefix(a, "s3:") {
			return false
		}
	}
	cond, ok := st.Condition["StringEquals"]
	return ok && len(st.Condition) == 1 && len(cond) == 1 && cond["s3:ResourceAccount"] == mocks.Account
}

func TestRoleGrants(t *testing.T) {
	grants := func(r *result, policy string) map[string][]string {
		out := map[string][]string{}
		for _, st := range policyOf(t, find(t, r, tRolePolicy, policy), "policy").Statement {
			for _, a := range st.Action {
				out[a] = append(out[a], st.Resource...)
			}
		}
		return out
	}
	r := knobRun(t)
	stream := find(t, r, tStream, "stream").Outputs["arn"].(string)
	table := find(t, r, tTable, "features").Outputs["arn"].(string)
	failures := find(t, r, tQueue, "failures").Outputs["arn"].(string)
	poison := find(t, r, tQueue, "poison").Outputs["arn"].(string)

	processor := grants(r, "processor-policy")
	for _, a := range []string{"kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"} {
		if strings.Join(processor[a], ",") != stream {
			t.Errorf("processor %s on %v, want only the stream", a, processor[a])
		}
	}
	for _, a := range []string{"dynamodb:BatchGetItem", "dynamodb:PutItem"} {
		if strings.Join(processor[a], ",") != table {
			t.Errorf("processor %s on %v, want the table", a, processor[a])
		}
	}
	if got := strings.Join(processor["sqs:SendMessage"], ","); got != poison+","+failures {
		t.Errorf("processor sqs:SendMessage on %s, want both queues (failureDestination sqs)", got)
	}
	bucket := find(t, r, tBucket, "failures").Outputs["arn"].(string)
	if got := strings.Join(processor["s3:PutObject"], ","); got != bucket+"/*" {
		t.Errorf("processor s3:PutObject on %s, want the failures bucket's objects (poison payloads)", got)
	}
	if _, ok := processor["s3:ListBucket"]; ok {
		t.Error("with failureDestination sqs the processor needs no s3:ListBucket")
	}
	if strings.Join(processor["kms:GenerateDataKey"], ",") != customKey {
		t.Errorf("processor kms:GenerateDataKey on %v, want the customer key (the bucket's objects)", processor["kms:GenerateDataKey"])
	}
	// The default, failureDestination s3: Lambda writes failed batches to the bucket with the
	// processor's role, which needs s3:PutObject and s3:ListBucket there, and no queue.
	dev := grants(devRun(t), "processor-policy")
	devBucket := find(t, devRun(t), tBucket, "failures").Outputs["arn"].(string)
	if strings.Join(dev["s3:PutObject"], ",") != devBucket+"/*" || strings.Join(dev["s3:ListBucket"], ",") != devBucket {
		t.Errorf("dev: s3:PutObject on %v and s3:ListBucket on %v, want the failures bucket", dev["s3:PutObject"], dev["s3:ListBucket"])
	}
	if strings.Join(dev["sqs:SendMessage"], ",") != find(t, devRun(t), tQueue, "poison").Outputs["arn"] {
		t.Errorf("dev: sqs:SendMessage on %v, want only the poison queue", dev["sqs:SendMessage"])
	}
	if strings.Join(processor["kms:Decrypt"], ",") != customKey+","+retiredKey {
		t.Errorf("processor kms:Decrypt on %v, want the customer key and the retired one", processor["kms:Decrypt"])
	}
	// Enhanced fan-out: the consumer actions on exactly the consumer, nothing else.
	consumer := find(t, r, tConsumer, "processor-consumer").Outputs["arn"].(string)
	for _, a := range []string{"kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"} {
		if strings.Join(processor[a], ",") != consumer {
			t.Errorf("processor %s on %v, want only the consumer %s", a, processor[a], consumer)
		}
	}
	for action := range grants(devRun(t), "processor-policy") {
		if action == "kinesis:SubscribeToShard" || action == "kinesis:DescribeStreamConsumer" {
			t.Errorf("dev reads shared (GetRecords) but is granted %s", action)
		}
	}
	for _, forbidden := range []string{"kinesis:PutRecord", "kinesis:PutRecords", "kinesis:ListStreams", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} {
		if _, ok := processor[forbidden]; ok {
			t.Errorf("processor is granted %s", forbidden)
		}
	}

	ingest := grants(r, "ingest-policy")
	if len(ingest) != 5 { // PutRecord, PutRecords, CreateLogStream, PutLogEvents, GenerateDataKey
		t.Errorf("ingest grants %v, want only the stream writes, its logs and the key", ingest)
	}
	if strings.Join(ingest["kinesis:PutRecords"], ",") != stream || strings.Join(ingest["kms:GenerateDataKey"], ",") != customKey {
		t.Errorf("ingest grants %v", ingest)
	}

	// With the AWS-managed key no KMS statement is needed or granted.
	for _, policy := range []string{"ingest-policy", "processor-policy"} {
		for action := range grants(devRun(t), policy) {
			if strings.HasPrefix(action, "kms:") {
				t.Errorf("dev %s grants %s although the stream uses alias/aws/kinesis", policy, action)
			}
		}
	}
}

func TestTrustPolicies(t *testing.T) {
	for _, role := range []string{"ingest-role", "processor-role"} {
		doc := policyOf(t, find(t, devRun(t), tRole, role), "assumeRolePolicy")
		if len(doc.Statement) != 1 {
			t.Fatalf("%s trust policy has %d statements", role, len(doc.Statement))
		}
		st := doc.Statement[0]
		if st.Principal["Service"] != "lambda.amazonaws.com" || strings.Join(st.Action, ",") != "sts:AssumeRole" || st.Effect != "Allow" {
			t.Errorf("%s trust policy = %+v, want lambda.amazonaws.com may sts:AssumeRole", role, st)
		}
	}
}

// The alarm key's policy is a key policy, where Resource "*" means the key itself. Only AWS's
// default account statement may use a wildcard action; CloudWatch gets named actions, from this
// account only.
func TestAlarmKeyPolicy(t *testing.T) {
	doc := policyOf(t, find(t, devRun(t), tKey, "alarms-key"), "policy")
	for _, st := range doc.Statement {
		switch st.Sid {
		case "AccountAdministersKeyThroughIAM":
			if st.Principal["AWS"] != "arn:aws:iam::"+mocks.Account+":root" {
				t.Errorf("admin principal = %v", st.Principal)
			}
		case "CloudWatchAlarmsPublish":
			if st.Principal["Service"] != "cloudwatch.amazonaws.com" {
				t.Errorf("publisher principal = %v", st.Principal)
			}
			for _, a := range st.Action {
				if !pipeline.IsKnownAction(a) {
					t.Errorf("CloudWatch is granted %q", a)
				}
			}
			if st.Condition["StringEquals"]["aws:SourceAccount"] != mocks.Account ||
				st.Condition["ArnLike"]["aws:SourceArn"] != "arn:aws:cloudwatch:us-east-1:"+mocks.Account+":alarm:*" {
				t.Errorf("CloudWatch grant is not limited to this account's alarms: %v", st.Condition)
			}
		default:
			t.Errorf("unexpected key policy statement %+v", st)
		}
	}
}

func TestKnownActionsCatchTypos(t *testing.T) {
	for action, want := range map[string]bool{
		"kinesis:GetRecords": true, "kinesis:GetRecord": false, "kinesis:*": false,
		"dynamodb:UpdateItem": true, "sqs:SendMessageBatch": false, "GetRecords": false,
	} {
		if got := pipeline.IsKnownAction(action); got != want {
			t.Errorf("IsKnownAction(%q) = %v, want %v", action, got, want)
		}
	}
}

// viaServiceEndpoint is a Kinesis or S3 endpoint of one region, as kms:ViaService names it.
var viaServiceEndpoint = regexp.MustCompile(`^(kinesis|s3)\.[a-z]{2}(-[a-z]+)+-\d\.amazonaws\.com$`)

// isKMSViaService reports whether st is a KMS statement usable only through Kinesis or S3
// in the stack's region: its one condition is kms:ViaService on those endpoints.
func isKMSViaService(st pipeline.Statement) bool {
	if len(st.Condition) != 1 || len(st.Condition["StringEquals"]) != 1 {
		return false
	}
	via, _ := st.Condition["StringEquals"]["kms:ViaService"].([]any)
	for _, v := range via {
		if s, _ := v.(string); !viaServiceEndpoint.MatchString(s) {
			return false
		}
	}
	return len(via) > 0 && strings.HasPrefix(st.Action[0], "kms:")
}

// The alarm topic's policy: the account administers it, and only CloudWatch alarms of this
// account and region may publish; nobody else is named.
func TestAlarmTopicPolicy(t *testing.T) {
	r := devRun(t)
	topic := find(t, r, tTopic, "alarms").Outputs["arn"]
	reg := find(t, r, tTopicPol, "alarms-policy")
	if reg.Inputs["arn"] != topic {
		t.Fatalf("topic policy is on %v, want the alarm topic %v", reg.Inputs["arn"], topic)
	}
	doc := policyOf(t, reg, "policy")
	if len(doc.Statement) != 2 {
		t.Fatalf("topic policy %+v", doc)
	}
	for _, st := range doc.Statement {
		if st.Effect != "Allow" || len(st.Resource) != 1 || st.Resource[0] != topic {
			t.Errorf("%s: not an Allow on exactly the topic: %+v", st.Sid, st)
		}
		for _, a := range st.Action {
			if !pipeline.IsKnownAction(a) {
				t.Errorf("%s: unknown action %q", st.Sid, a)
			}
		}
		switch st.Sid {
		case "AccountManagesTopic":
			if st.Principal["AWS"] != "arn:aws:iam::"+mocks.Account+":root" || slices.Contains(st.Action, "sns:Publish") {
				t.Errorf("account statement %+v: want the account root, without sns:Publish", st)
			}
		case "CloudWatchAlarmsPublish":
			if st.Principal["Service"] != "cloudwatch.amazonaws.com" || len(st.Action) != 1 || st.Action[0] != "sns:Publish" ||
				st.Condition["StringEquals"]["aws:SourceAccount"] != mocks.Account ||
				st.Condition["ArnLike"]["aws:SourceArn"] != "arn:aws:cloudwatch:us-east-1:"+mocks.Account+":alarm:*" {
				t.Errorf("publish statement %+v: want CloudWatch, sns:Publish only, from this account's alarms", st)
			}
		default:
			t.Errorf("unexpected statement %+v", st)
		}
	}
}
