package config

import (
	"github.com/streamfn/streamfn/internal/codec/rfc3339"

	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxFilterPatternLength is Lambda's limit on one filter pattern
// (https://docs.aws.amazon.com/lambda/latest/api/API_Filter.html).
const maxFilterPatternLength = 4096

// filterOperators are the comparison operators Lambda's event filtering accepts
// (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html#filtering-syntax).
var filterOperators = []string{"anything-but", "equals-ignore-case", "exists", "numeric", "prefix", "suffix"}

// TimestampLayout is the form AWS reads startingPositionTimestamp back in: whole seconds, UTC.
const TimestampLayout = "2006-01-02T15:04:05Z"

// NormalizeTimestamp turns an RFC 3339 time into the form the provider reads back from Lambda
// (whole seconds in UTC, "2026-01-31T00:00:00Z"): the provider formats Lambda's
// StartingPositionTimestamp with time.RFC3339 in UTC, so any other spelling of the same
// instant would show a change, and replace the mapping, on every run. A fraction of a second
// is refused rather than cut: Lambda keeps whole seconds, and silently moving the start
// would re-read or skip records.
func NormalizeTimestamp(s string) (string, error) {
	// RFC 3339's own grammar, as ingest and the processor read ts.
	t, err := rfc3339.Parse(s)
	if err != nil {
		return "", fmt.Errorf("AT_TIMESTAMP needs an RFC 3339 time in whole seconds such as 2026-01-31T00:00:00Z (UTC, the form AWS reads back)")
	}
	if t.Nanosecond() != 0 {
		return "", fmt.Errorf("has a fraction of a second, which Lambda does not keep (it reads back %s); give whole seconds in UTC",
			t.UTC().Truncate(time.Second).Format(TimestampLayout))
	}
	return t.UTC().Format(TimestampLayout), nil
}

func timestampFix(s string) string {
	if t, err := rfc3339.Parse(s); err == nil {
		return t.UTC().Truncate(time.Second).Format(TimestampLayout)
	}
	return "2025-01-31T00:00:00Z"
}

func (c *Config) validateFilters(v *validator) {
	key := Key("mappingFilters")
	if c.MappingFilterQuota >= 1 && len(c.MappingFilters) > c.MappingFilterQuota {
		v.add(key, fmt.Sprintf("(%d patterns)", len(c.MappingFilters)),
			fmt.Sprintf("at most streamfn:mappingFilterQuota = %d patterns per mapping (Lambda's default quota is 5, adjustable to 10)", c.MappingFilterQuota),
			"merge patterns (a pattern's arrays are already OR), or raise the quota with AWS and then streamfn:mappingFilterQuota")
	}
	for i, pattern := range c.MappingFilters {
		if err := CheckFilterPattern(pattern); err != nil {
			v.add(fmt.Sprintf("%s[%d]", key, i), pattern, err.Error(),
				`write a pattern on data, e.g. {"data":{"type":["purchase"]}} or {"data":{"value":[{"numeric":[">",100]}]}}`)
		}
	}
}

// CheckFilterPattern checks one Lambda filter pattern for a Kinesis mapping: a JSON object
// whose only top-level key is "data" (the decoded record), whose leaves are arrays of
// values or of one-operator objects, as Lambda's filter rule syntax requires.
func CheckFilterPattern(pattern string) error {
	if len(pattern) > maxFilterPatternLength {
		return fmt.Errorf("is %d characters; Lambda allows %d per pattern", len(pattern), maxFilterPatternLength)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(pattern), &doc); err != nil {
		return fmt.Errorf("is not a JSON object: %v", err)
	}
	if len(doc) != 1 || doc["data"] == nil {
		return fmt.Errorf(`must filter on "data" only (the record's JSON event); it has the keys %v`, slices.Sorted(maps.Keys(doc)))
	}
	return checkFilterNode("data", doc["data"])
}

func checkFilterNode(path string, node any) error {
	switch n := node.(type) {
	case map[string]any:
		if len(n) == 0 {
			return fmt.Errorf("%s is an empty object; give it fields", path)
		}
		for _, k := range slices.Sorted(maps.Keys(n)) {
			if err := checkFilterNode(path+"."+k, n[k]); err != nil {
				return err
			}
		}
		return nil
	case []any:
		if len(n) == 0 {
			return fmt.Errorf("%s is an empty array, which matches nothing", path)
		}
		for i, e := range n {
			if err := checkFilterValue(fmt.Sprintf("%s[%d]", path, i), e); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%s must be an object of fields or an array of values to match; Lambda rejects a bare value such as %v", path, node)
}

func checkFilterValue(path string, e any) error {
	op, ok := e.(map[string]any)
	if !ok {
		if _, nested := e.([]any); nested {
			return fmt.Errorf("%s is an array inside an array; list the values in one array", path)
		}
		return nil // string, number, boolean or null
	}
	if len(op) != 1 {
		return fmt.Errorf("%s must hold exactly one operator, one of %s", path, strings.Join(filterOperators, ", "))
	}
	for name, arg := range op {
		if !slices.Contains(filterOperators, name) {
			return fmt.Errorf("%s uses the operator %q; Lambda knows %s", path, name, strings.Join(filterOperators, ", "))
		}
		switch name {
		case "prefix", "suffix", "equals-ignore-case":
			if _, ok := arg.(string); !ok {
				return fmt.Errorf("%s: %s takes a string", path, name)
			}
		case "exists":
			if _, ok := arg.(bool); !ok {
				return fmt.Errorf("%s: exists takes true or false", path)
			}
		case "numeric":
			if err := checkNumeric(arg); err != nil {
				return fmt.Errorf("%s: %v", path, err)
			}
		}
	}
	return nil
}

func checkNumeric(arg any) error {
	list, ok := arg.([]any)
	if !ok || len(list) == 0 || len(list)%2 != 0 || len(list) > 4 {
		return fmt.Errorf(`numeric takes one or two comparisons such as [">", 0, "<=", 5]`)
	}
	for i := 0; i < len(list); i += 2 {
		op, _ := list[i].(string)
		if !slices.Contains([]string{"=", "<", "<=", ">", ">="}, op) {
			return fmt.Errorf("numeric comparison %v is not one of = < <= > >=", list[i])
		}
		if _, ok := list[i+1].(float64); !ok {
			return fmt.Errorf("numeric comparison %s needs a number, not %v", op, list[i+1])
		}
	}
	return nil
}

func (c *Config) validateRetiredKeys(v *validator) {
	for i, key := range c.RetiredKMSKeyIDs {
		path := fmt.Sprintf("%s[%d]", Key("retiredKmsKeyIds"), i)
		switch m := kmsKeyARNPattern.FindStringSubmatch(key); {
		case m == nil:
			v.add(path, key, "must be the ARN of a KMS key the stream used before", "remove it or give the key's ARN")
		case key == c.KMSKeyID:
			v.add(path, key, "is the current streamfn:kmsKeyId; only keys the stream no longer uses are retired", "remove it from streamfn:retiredKmsKeyIds")
		}
	}
}

// unreservedMinimum is the concurrency Lambda always keeps unreserved in an account: a
// reservation that would leave less is refused
// (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
const unreservedMinimum = 100

// ReservedConcurrency is the concurrency the stack reserves for its functions.
func (c *Config) ReservedConcurrency() int {
	total := 0
	for _, n := range []int{c.ProcessorConcurrency, c.IngestConcurrency} {
		if n != Unreserved {
			total += n
		}
	}
	return total
}

// RequiredAccountConcurrency is the smallest Lambda concurrent-executions quota an account
// needs for this stack: its reservations plus the 100 Lambda keeps unreserved. Reservations
// of other functions in the account count on top.
func (c *Config) RequiredAccountConcurrency() int {
	return c.ReservedConcurrency() + unreservedMinimum
}

// ShardSteps returns the shard counts a PROVISIONED stream must pass through from its current
// count to target. UpdateShardCount refuses a target above double or below half of the
// current count (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_UpdateShardCount.html),
// so each step at most doubles or halves. The last element is target; an empty result means
// no change.
func ShardSteps(current, target int) []int {
	var steps []int
	for n := current; n != target && n > 0; {
		switch {
		case target > n:
			n = min(target, 2*n)
		default:
			n = max(target, (n+1)/2)
		}
		steps = append(steps, n)
	}
	return steps
}

// maxScalingsPerDay is how many UpdateShardCount calls Kinesis allows per stream in a rolling
// 24 hours (API_UpdateShardCount).
const maxScalingsPerDay = 10

// CheckShardChange returns a problem when a PROVISIONED stream with deployed open shards
// cannot reach the configured shardCount in one UpdateShardCount call, with the steps to take.
func (c *Config) CheckShardChange(deployed int) *Problem {
	if c.StreamMode != StreamModeProvisioned || deployed < 1 {
		return nil
	}
	steps := ShardSteps(deployed, c.ShardCount)
	if len(steps) <= 1 {
		return nil
	}
	texts := make([]string, len(steps))
	for i, n := range steps {
		texts[i] = strconv.Itoa(n)
	}
	note := ""
	if len(steps) > maxScalingsPerDay {
		note = fmt.Sprintf(" Kinesis allows %d scalings per stream in 24 hours, so spread them over more than a day.", maxScalingsPerDay)
	}
	return &Problem{
		Key:   Key("shardCount"),
		Value: strconv.Itoa(c.ShardCount),
		Rule: fmt.Sprintf("the deployed stream has %d open shards, and Kinesis (UpdateShardCount) scales to at most double or at least half of the current count in one step",
			deployed),
		Fix: fmt.Sprintf("go there in %d runs of pulumi up, setting streamfn:shardCount to %s in turn.%s",
			len(steps), strings.Join(texts, ", then "), note),
	}
}

// AWSManagedStreamKey is the AWS-managed KMS key of Kinesis.
const AWSManagedStreamKey = "alias/aws/kinesis"

// CheckKeyChange returns a problem when the stream moves away from a customer key
// (deployedKey) without keeping it in retiredKmsKeyIds: records encrypted with it stay in
// the stream for retentionHours, and the processor needs kms:Decrypt on it to read them.
func (c *Config) CheckKeyChange(deployedKey string) *Problem {
	if deployedKey == "" || deployedKey == AWSManagedStreamKey || deployedKey == c.KMSKeyID ||
		slices.Contains(c.RetiredKMSKeyIDs, deployedKey) || !strings.HasPrefix(deployedKey, "arn:") {
		return nil
	}
	return &Problem{
		Key:   Key("kmsKeyId"),
		Value: c.KMSKeyID,
		Rule: fmt.Sprintf("the stream is encrypted with %s now; records written under it stay in the stream for up to streamfn:retentionHours (%d h), and without kms:Decrypt on it the processor would fail on every one of them",
			deployedKey, c.RetentionHours),
		Fix: fmt.Sprintf("keep the old key's grant: pulumi config set --path 'streamfn:retiredKmsKeyIds[%d]' %s, run pulumi up, and remove it from streamfn:retiredKmsKeyIds after %d hours (keep the key itself enabled until then)",
			len(c.RetiredKMSKeyIDs), deployedKey, c.RetentionHours),
	}
}
