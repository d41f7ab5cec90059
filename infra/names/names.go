// Package names makes the physical names the program chooses itself (the dashboard, the log
// groups, the alarm topic's display name, the stream consumer and, later, S3 buckets) valid
// for every stack name Pulumi accepts, and checks names against each service's rules.
//
// Pulumi stack names may hold letters, digits, "-", "_" and "." and run to 100 characters
// (https://www.pulumi.com/docs/iac/concepts/stacks/). Several AWS services allow fewer
// characters or fewer bytes than that, so a stack such as "qa.eu" would otherwise fail on
// `up`, not on preview. Resources Pulumi autonames (queues, roles, table, functions, stream)
// take "<logical name>-<7 hex>", which never contains the stack name; Check still holds
// them to their rules in the tests.
package names

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Rule is what one AWS service accepts as a name.
type Rule struct {
	Service string // e.g. "CloudWatch dashboard"
	Min     int
	Max     int
	// Allowed is the set of characters the service accepts, as a regexp character class body.
	Allowed string
	// Lower means the service accepts lowercase letters only.
	Lower bool
	// Doc is the AWS page the rule comes from.
	Doc string
	// extra checks rules that are not about single characters.
	extra func(name string) error
}

// The services' rules.
var (
	// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html:
	// "can contain only alphanumerics, dash (-), and underscore (_)", up to 255 characters.
	Dashboard = Rule{Service: "CloudWatch dashboard", Min: 1, Max: 255, Allowed: `A-Za-z0-9_\-`,
		Doc: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html"}

	// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html:
	// 1-512 characters of a-z, A-Z, 0-9, '_', '-', '/', '.' and '#'.
	LogGroup = Rule{Service: "CloudWatch Logs log group", Min: 1, Max: 512, Allowed: `A-Za-z0-9_\-/.#`,
		Doc: "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html"}

	// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html: 3-63
	// characters of lowercase letters, digits, '-' and '.', beginning and ending with a letter
	// or digit. Dots are allowed by S3 but break virtual-hosted HTTPS and Transfer
	// Acceleration, so this rule leaves them out. Bucket names are global across accounts, so
	// give a bucket a part only this stack instance has, e.g.
	// Bucket.Name(project, stack, "failures", Hash(streamARN, 8)).
	Bucket = Rule{Service: "S3 bucket", Min: 3, Max: 63, Allowed: `a-z0-9\-`, Lower: true,
		Doc: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html", extra: bucketExtra}

	// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html:
	// up to 80 alphanumerics, hyphens and underscores.
	Queue = Rule{Service: "SQS queue", Min: 1, Max: 80, Allowed: `A-Za-z0-9_\-`,
		Doc: "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html"}

	// https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html: up to 64 of
	// alphanumerics and _+=,.@-.
	Role = Rule{Service: "IAM role", Min: 1, Max: 64, Allowed: `A-Za-z0-9_+=,.@\-`,
		Doc: "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html"}

	// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html:
	// 3-255 characters of a-z, A-Z, 0-9, '_', '-' and '.'.
	Table = Rule{Service: "DynamoDB table", Min: 3, Max: 255, Allowed: `A-Za-z0-9_.\-`,
		Doc: "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html"}

	// https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html: a function name
	// is up to 64 letters, digits, hyphens and underscores.
	Function = Rule{Service: "Lambda function", Min: 1, Max: 64, Allowed: `A-Za-z0-9_\-`,
		Doc: "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html"}

	// https://docs.aws.amazon.com/kinesis/latest/APIReference/API_CreateStream.html and
	// API_RegisterStreamConsumer.html: stream and consumer names are 1-128 of a-zA-Z0-9_.-.
	Stream   = Rule{Service: "Kinesis stream", Min: 1, Max: 128, Allowed: `A-Za-z0-9_.\-`, Doc: "https://docs.aws.amazon.com/kinesis/latest/APIReference/API_CreateStream.html"}
	Consumer = Rule{Service: "Kinesis stream consumer", Min: 1, Max: 128, Allowed: `A-Za-z0-9_.\-`, Doc: "https://docs.aws.amazon.com/kinesis/latest/APIReference/API_RegisterStreamConsumer.html"}

	// https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html: topic names are up to
	// 256 alphanumerics, hyphens and underscores. The display name (SMS sender) is 100
	// characters at most (API_SetTopicAttributes).
	Topic            = Rule{Service: "SNS topic", Min: 1, Max: 256, Allowed: `A-Za-z0-9_\-`, Doc: "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html"}
	TopicDisplayName = Rule{Service: "SNS topic display name", Min: 1, Max: 100, Allowed: `\x20-\x7E`, Doc: "https://docs.aws.amazon.com/sns/latest/api/API_SetTopicAttributes.html"}

	// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html:
	// 1-255 characters.
	Alarm = Rule{Service: "CloudWatch alarm", Min: 1, Max: 255, Allowed: `\x20-\x7E`, Doc: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html"}
)

var ipAddress = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+$`)

func bucketExtra(name string) error {
	switch {
	case !isAlnum(name[0]) || !isAlnum(name[len(name)-1]):
		return fmt.Errorf("must begin and end with a letter or digit")
	case strings.HasPrefix(name, "xn--") || strings.HasPrefix(name, "sthree-"):
		return fmt.Errorf(`must not begin with "xn--" or "sthree-"`)
	case strings.HasSuffix(name, "-s3alias") || strings.HasSuffix(name, "--ol-s3") || strings.HasSuffix(name, "--x-s3"):
		return fmt.Errorf(`must not end with "-s3alias", "--ol-s3" or "--x-s3"`)
	case ipAddress.MatchString(name):
		return fmt.Errorf("must not look like an IP address")
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Check reports whether name is one the service accepts, and if not, why.
func (r Rule) Check(name string) error {
	if n := len(name); n < r.Min || n > r.Max {
		return fmt.Errorf("%s name %q is %d characters; %s allows %d..%d (%s)", r.Service, name, n, r.Service, r.Min, r.Max, r.Doc)
	}
	if r.Lower && strings.ToLower(name) != name {
		return fmt.Errorf("%s name %q has uppercase letters, which %s does not allow (%s)", r.Service, name, r.Service, r.Doc)
	}
	if bad := r.invalid().FindString(name); bad != "" {
		return fmt.Errorf("%s name %q contains %q, which %s does not allow; allowed: [%s] (%s)", r.Service, name, bad, r.Service, r.Allowed, r.Doc)
	}
	if r.extra != nil {
		if err := r.extra(name); err != nil {
			return fmt.Errorf("%s name %q %v (%s)", r.Service, name, err, r.Doc)
		}
	}
	return nil
}

func (r Rule) invalid() *regexp.Regexp {
	return regexp.MustCompile(`[^` + r.Allowed + `]`)
}

// Name joins parts with "-" into a name the service accepts: characters it does not allow
// become "-", letters are lowercased where it needs that, and a name over the length limit
// is cut and ends in 8 hex characters of a hash of the whole, so two long stack names that
// share a prefix still get different names. The same parts always give the same name.
//
// Example: Dashboard.Name("streamfn", "qa.eu", "1a2b3c4d") = "streamfn-qa-eu-1a2b3c4d".
func (r Rule) Name(parts ...string) string {
	whole := strings.Join(parts, "-")
	name := whole
	if r.Lower {
		name = strings.ToLower(name)
	}
	name = r.invalid().ReplaceAllString(name, "-")
	if r.Bucket() {
		name = strings.Trim(collapse(name), "-")
	}
	if len(name) > r.Max {
		suffix := "-" + Hash(whole, 8)
		name = strings.TrimRight(name[:r.Max-len(suffix)], "-") + suffix
	}
	if len(name) < r.Min {
		name = strings.TrimLeft(name+"-"+Hash(whole, 8), "-")
	}
	return name
}

// Bucket reports whether r is the S3 bucket rule, whose names may not hold "--" runs at
// either end.
func (r Rule) Bucket() bool { return r.Service == Bucket.Service }

func collapse(s string) string {
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	return s
}

// Hash returns n hex characters of the SHA-256 of s: a short, stable, lowercase suffix that
// makes a name unique, for instance to a stack instance through a value AWS generated.
func Hash(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}
