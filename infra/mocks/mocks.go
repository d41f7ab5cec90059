// Package mocks is a realistic pulumi.MockResourceMonitor for the streamfn program, shared by
// the unit tests, the offline plan and the local run. Every resource gets the outputs AWS would
// give it - physical names, ARNs in AWS's format, queue and function URLs, code hashes - so
// nothing in a plan is unknown. Names and IDs derive from the logical names, so runs are stable.
package mocks

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Account is the placeholder AWS account of every mocked ARN.
const Account = "123456789012"

// Options describes the stack being mocked.
type Options struct {
	Project string // e.g. "streamfn"
	Stack   string // e.g. "dev"
	Region  string // e.g. "us-east-1"
	// DeployedShards, when above 0, is the open shard count of an already deployed stream,
	// which the getStream invoke reports; 0 means the stack was never deployed and the
	// invoke answers "not found", as AWS does for a stream that does not exist.
	DeployedShards int
	// DeployedStreamKey is the KMS key the deployed stream is encrypted with
	// ("alias/aws/kinesis" when empty).
	DeployedStreamKey string
	// StreamReadError, when set, is the error the getStream invoke fails with, as for a
	// preview role that may not read the stream.
	StreamReadError string
}

// Registration is one resource the program registered, in JSON-friendly form.
type Registration struct {
	Type    string         // type token, e.g. "aws:kinesis/stream:Stream"
	Name    string         // logical name
	Parent  string         // parent's logical name; "" for children of the stack
	Custom  bool           // false for component resources
	Inputs  map[string]any // the inputs exactly as the program passed them
	Outputs map[string]any // inputs plus what the mock computed
	ID      string
	// Options are the resource options the program set, read from the register request:
	// only those that differ from Pulumi's defaults (protect, deleteBeforeReplace, ...).
	Options map[string]any
}

// Monitor implements pulumi.MockResourceMonitor and records every registration.
type Monitor struct {
	opts Options

	mu            sync.Mutex
	registrations []Registration
}

var _ pulumi.MockResourceMonitor = (*Monitor)(nil)

// New returns a Monitor for one stack.
func New(opts Options) *Monitor {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	return &Monitor{opts: opts}
}

// Registrations returns what was registered so far: providers, then components, then the
// rest by type token and logical name (registration order depends on goroutine scheduling).
func (m *Monitor) Registrations() []Registration {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.registrations)
	rank := func(r Registration) int {
		switch {
		case strings.HasPrefix(r.Type, "pulumi:providers:"):
			return 0
		case !r.Custom:
			return 1
		}
		return 2
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := rank(out[i]), rank(out[j]); ri != rj {
			return ri < rj
		}
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Find returns the registration with the given type token and logical name.
func (m *Monitor) Find(typ, name string) (Registration, bool) {
	for _, r := range m.Registrations() {
		if r.Type == typ && r.Name == name {
			return r, true
		}
	}
	return Registration{}, false
}

// Call answers the provider functions the program may invoke.
func (m *Monitor) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	switch args.Token {
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{
			"accountId": Account,
			"arn":       fmt.Sprintf("arn:aws:sts::%s:assumed-role/streamfn-plan/offline", Account),
			"userId":    "AROAOFFLINEPLAN:offline",
			"id":        Account,
		}), nil
	case "aws:index/getPartition:getPartition":
		return resource.NewPropertyMapFromMap(map[string]any{
			"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws",
		}), nil
	case "aws:index/getRegion:getRegion":
		return resource.NewPropertyMapFromMap(map[string]any{
			"name": m.opts.Region, "region": m.opts.Region, "id": m.opts.Region,
			"endpoint": "ec2." + m.opts.Region + ".amazonaws.com",
		}), nil
	case "aws:kinesis/getStream:getStream":
		name := args.Args["name"].StringValue()
		if m.opts.StreamReadError != "" {
			return nil, fmt.Errorf("%s", m.opts.StreamReadError)
		}
		if m.opts.DeployedShards < 1 {
			return nil, fmt.Errorf("ResourceNotFoundException: Stream %s under account %s not found", name, Account)
		}
		shards := make([]any, m.opts.DeployedShards)
		for i := range shards {
			shards[i] = fmt.Sprintf("shardId-%012d", i)
		}
		key := m.opts.DeployedStreamKey
		if key == "" {
			key = "alias/aws/kinesis"
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"name": name, "arn": fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/%s", m.opts.Region, Account, name),
			"id": name, "openShards": shards, "closedShards": []any{}, "status": "ACTIVE",
			"encryptionType": "KMS", "kmsKeyId": key, "retentionPeriod": 24,
			"streamModeDetails": []any{map[string]any{"streamMode": "PROVISIONED"}},
		}), nil
	}
	return nil, fmt.Errorf("mocks: the program invoked %s, which the mock does not answer", args.Token)
}

// NewResource gives a resource the outputs AWS would.
func (m *Monitor) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	inputs := ToJSON(resource.NewProperty(args.Inputs)).(map[string]any)
	outputs := map[string]any{}
	for k, v := range inputs {
		outputs[k] = v
	}
	id := m.complete(args.TypeToken, args.Name, inputs, outputs)
	if !args.Custom {
		id = ""
	}

	parent := ""
	var options map[string]any
	if req := args.RegisterRPC; req != nil {
		if p := resource.URN(req.GetParent()); p != "" && p.IsValid() && p.Type() != resource.RootStackType {
			parent = p.Name()
		}
		options = registerOptions(req)
	}
	m.mu.Lock()
	m.registrations = append(m.registrations, Registration{
		Type: args.TypeToken, Name: args.Name, Parent: parent, Custom: args.Custom,
		Inputs: inputs, Outputs: outputs, ID: id, Options: options,
	})
	m.mu.Unlock()
	return id, resource.NewPropertyMapFromMap(outputs), nil
}

// registerOptions reads the resource options of a register request, keeping only those the
// program set: protect, deleteBeforeReplace, retainOnDelete, ignoreChanges,
// replaceOnChanges, explicit dependsOn (logical names) and customTimeouts. Options are what decide
// whether an update replaces, deletes or refuses, so the plan shows them.
func registerOptions(req *pulumirpc.RegisterResourceRequest) map[string]any {
	opts := map[string]any{}
	if req.GetProtect() {
		opts["protect"] = true
	}
	if req.GetDeleteBeforeReplace() {
		opts["deleteBeforeReplace"] = true
	}
	if req.GetRetainOnDelete() {
		opts["retainOnDelete"] = true
	}
	if v := req.GetIgnoreChanges(); len(v) > 0 {
		opts["ignoreChanges"] = sorted(v)
	}
	if v := req.GetReplaceOnChanges(); len(v) > 0 {
		opts["replaceOnChanges"] = sorted(v)
	}
	// The SDK sends every dependency; those that no input carries are the explicit dependsOn.
	fromInputs := map[string]bool{}
	for _, pd := range req.GetPropertyDependencies() {
		for _, u := range pd.GetUrns() {
			fromInputs[u] = true
		}
	}
	var deps []string
	for _, d := range req.GetDependencies() {
		if u := resource.URN(d); u.IsValid() && !fromInputs[d] {
			deps = append(deps, u.Name())
		}
	}
	if len(deps) > 0 {
		opts["dependsOn"] = sorted(deps)
	}
	if t := req.GetCustomTimeouts(); t != nil && (t.GetCreate() != "" || t.GetUpdate() != "" || t.GetDelete() != "") {
		timeouts := map[string]any{}
		for k, v := range map[string]string{"create": t.GetCreate(), "update": t.GetUpdate(), "delete": t.GetDelete()} {
			if v != "" {
				timeouts[k] = v
			}
		}
		opts["customTimeouts"] = timeouts
	}
	if len(opts) == 0 {
		return nil
	}
	return opts
}

func sorted(v []string) []any {
	s := slices.Sorted(slices.Values(v))
	out := make([]any, len(s))
	for i, e := range s {
		out[i] = e
	}
	return out
}

// complete adds the computed outputs of each resource type and returns its physical ID.
func (m *Monitor) complete(typ, logical string, in, out map[string]any) string {
	region := m.opts.Region
	resourceARN := func(service, rest string) string {
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, region, Account, rest)
	}
	// name is the physical name: the explicit one, else Pulumi's autoname <logical>-<7 hex>.
	name := func() string {
		if n, ok := in["name"].(string); ok && n != "" {
			return n
		}
		n := logical + "-" + m.hash(typ+"/"+logical, 7)
		out["name"] = n
		return n
	}

	switch typ {
	case "aws:kinesis/stream:Stream":
		n := name()
		out["arn"] = resourceARN("kinesis", "stream/"+n)
		return n
	case "aws:kinesis/streamConsumer:StreamConsumer":
		// Kinesis appends the registration time to a consumer's ARN.
		out["arn"] = str(in["streamArn"]) + "/consumer/" + str(in["name"]) + ":1735689600"
		out["creationTimestamp"] = "2025-01-01T00:00:00Z"
		return out["arn"].(string)
	case "aws:lambda/function:Function":
		n := name()
		fnARN := resourceARN("lambda", "function:"+n)
		version := "$LATEST"
		if publish, _ := in["publish"].(bool); publish {
			version = "1"
		}
		out["arn"] = fnARN
		out["invokeArn"] = invokeARN(region, fnARN)
		out["version"] = version
		out["qualifiedArn"] = fnARN + ":" + version
		out["qualifiedInvokeArn"] = invokeARN(region, fnARN+":"+version)
		out["codeSha256"] = in["sourceCodeHash"]
		out["lastModified"] = "2025-01-01T00:00:00.000+0000"
		return n
	case "aws:lambda/alias:Alias":
		fn := functionName(in["functionName"])
		aliasARN := resourceARN("lambda", "function:"+fn+":"+str(in["name"]))
		out["arn"] = aliasARN
		out["invokeArn"] = invokeARN(region, aliasARN)
		return aliasARN
	case "aws:lambda/functionUrl:FunctionUrl":
		urlID := m.hash("url/"+logical, 32)
		out["functionUrl"] = fmt.Sprintf("https://%s.lambda-url.%s.on.aws/", urlID, region)
		out["urlId"] = urlID
		out["functionArn"] = resourceARN("lambda", "function:"+functionName(in["functionName"]))
		return functionName(in["functionName"])
	case "aws:lambda/eventSourceMapping:EventSourceMapping":
		uuid := m.uuid("esm/" + logical)
		out["uuid"] = uuid
		out["arn"] = resourceARN("lambda", "event-source-mapping:"+uuid)
		out["functionArn"] = resourceARN("lambda", "function:"+functionName(in["functionName"]))
		out["state"] = "Enabled"
		return uuid
	case "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig":
		return functionName(in["functionName"]) + "," + str(in["qualifier"])
	case "aws:lambda/permission:Permission":
		return str(in["statementId"])
	case "aws:iam/role:Role":
		n := name()
		out["arn"] = fmt.Sprintf("arn:aws:iam::%s:role/%s", Account, n)
		out["uniqueId"] = "AROA" + strings.ToUpper(m.hash("role/"+logical, 17))
		return n
	case "aws:iam/rolePolicy:RolePolicy":
		return str(in["role"]) + ":" + name()
	case "aws:sqs/queue:Queue":
		n := name()
		out["arn"] = resourceARN("sqs", n)
		out["url"] = fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", region, Account, n)
		return out["url"].(string)
	case "aws:dynamodb/table:Table":
		n := name()
		out["arn"] = resourceARN("dynamodb", "table/"+n)
		return n
	case "aws:cloudwatch/logGroup:LogGroup":
		n := name()
		out["arn"] = resourceARN("logs", "log-group:"+n)
		return n
	case "aws:cloudwatch/metricAlarm:MetricAlarm":
		n := name()
		out["arn"] = resourceARN("cloudwatch", "alarm:"+n)
		return n
	case "aws:cloudwatch/dashboard:Dashboard":
		n := str(in["dashboardName"])
		out["dashboardArn"] = fmt.Sprintf("arn:aws:cloudwatch::%s:dashboard/%s", Account, n)
		return n
	case "aws:sns/topic:Topic":
		n := name()
		out["arn"] = resourceARN("sns", n)
		return out["arn"].(string)
	case "aws:sns/topicSubscription:TopicSubscription":
		subARN := str(in["topic"]) + ":" + m.uuid("sub/"+logical)
		out["arn"] = subARN
		return subARN
	case "aws:s3/bucketV2:BucketV2":
		// Pulumi autonames a bucket <logical>-<7 hex>, lowercase as S3 requires.
		n := str(in["bucket"])
		if n == "" {
			n = logical + "-" + m.hash(typ+"/"+logical, 7)
			out["bucket"] = n
		}
		out["arn"] = "arn:aws:s3:::" + n
		out["bucketDomainName"] = n + ".s3.amazonaws.com"
		out["bucketRegionalDomainName"] = fmt.Sprintf("%s.s3.%s.amazonaws.com", n, region)
		out["region"] = region
		return n
	case "aws:kms/key:Key":
		keyID := m.uuid("kms/" + logical)
		out["keyId"] = keyID
		out["arn"] = resourceARN("kms", "key/"+keyID)
		return keyID
	}
	if strings.HasPrefix(typ, "pulumi:providers:") {
		return logical + "-provider-" + m.hash(typ+"/"+logical, 8)
	}
	return logical + "-" + m.hash(typ+"/"+logical, 7)
}

func (m *Monitor) hash(seed string, n int) string {
	sum := sha256.Sum256([]byte(m.opts.Project + "/" + m.opts.Stack + "/" + seed))
	return hex.EncodeToString(sum[:])[:n]
}

// uuid returns a stable, UUID-shaped identifier.
func (m *Monitor) uuid(seed string) string {
	h := m.hash(seed, 32)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func invokeARN(region, functionARN string) string {
	return fmt.Sprintf("arn:aws:apigateway:%s:lambda:path/2015-03-31/functions/%s/invocations", region, functionARN)
}

// functionName accepts a function name or ARN, as Lambda does, and returns the name.
// Anything else (a name, or "" for an output not known yet) comes back as it is.
func functionName(v any) string {
	s := str(v)
	if a, err := arn.Parse(s); err == nil {
		// The resource is function:name[:qualifier].
		if resource := strings.Split(a.Resource, ":"); len(resource) >= 2 {
			return resource[1]
		}
	}
	return s
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// ToJSON converts a Pulumi property value to plain Go values that encoding/json renders
// faithfully: numbers as float64, secrets unwrapped, archives and assets as their path.
func ToJSON(v resource.PropertyValue) any {
	switch {
	case v.IsNull():
		return nil
	case v.IsBool():
		return v.BoolValue()
	case v.IsNumber():
		return v.NumberValue()
	case v.IsString():
		return v.StringValue()
	case v.IsArray():
		arr := v.ArrayValue()
		out := make([]any, len(arr))
		for i, e := range arr {
			out[i] = ToJSON(e)
		}
		return out
	case v.IsObject():
		obj := v.ObjectValue()
		out := make(map[string]any, len(obj))
		for k, e := range obj {
			out[string(k)] = ToJSON(e)
		}
		return out
	case v.IsSecret():
		return ToJSON(v.SecretValue().Element)
	case v.IsOutput():
		o := v.OutputValue()
		if !o.Known {
			return "(unknown)"
		}
		return ToJSON(o.Element)
	case v.IsComputed():
		return "(unknown)"
	case v.IsArchive():
		a := v.ArchiveValue()
		if a.Path != "" {
			return map[string]any{"archive": a.Path}
		}
		return map[string]any{"archive": a.URI}
	case v.IsAsset():
		a := v.AssetValue()
		return map[string]any{"asset": a.Path}
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	}
	return fmt.Sprintf("%v", v.V)
}
