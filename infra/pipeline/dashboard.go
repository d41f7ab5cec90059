package pipeline

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/infra/names"
)

// Dashboard body types, as CloudWatch documents its dashboard body structure.
type dashboardBody struct {
	Widgets []widget `json:"widgets"`
}

type widget struct {
	Type       string           `json:"type"`
	X          int              `json:"x"`
	Y          int              `json:"y"`
	Width      int              `json:"width"`
	Height     int              `json:"height"`
	Properties widgetProperties `json:"properties"`
}

type widgetProperties struct {
	Title       string       `json:"title"`
	Region      string       `json:"region"`
	View        string       `json:"view"`
	Stat        string       `json:"stat"`
	Period      int          `json:"period"`
	Metrics     [][]any      `json:"metrics"`
	Annotations *annotations `json:"annotations,omitempty"`
}

type annotations struct {
	Horizontal []annotation `json:"horizontal"`
}

type annotation struct {
	Label string  `json:"label"`
	Value float64 `json:"value"`
}

// dashboardNames are the physical names the dashboard's metrics are keyed by.
type dashboardNames struct {
	Stream, Ingest, Processor, PoisonQueue string
	MappingUUID                            string
	FailuresQueue                          string // "" with the failures bucket
}

// dashboardName is "<project>-<stack>-<8 hex>". The stack name alone is not enough: it may hold
// "." (which dashboard names may not), and two checkouts that deploy the same stack name into
// one account would overwrite each other's dashboard, because PutDashboard replaces a
// dashboard of the same name without a word. The 8 hex characters are a hash of the stream's
// ARN, which holds Pulumi's random suffix of the stream name, so each stack instance gets
// its own dashboard for as long as its stream lives.
func dashboardName(project, stack, streamARN string) string {
	return names.Dashboard.Name(project, stack, names.Hash(streamARN, 8))
}

func newDashboard(ctx *pulumi.Context, cfg *config.Config, p *StreamPipeline, opts ...pulumi.ResourceOption) (*cloudwatch.Dashboard, pulumi.StringOutput, error) {
	name := p.Stream.Arn.ApplyT(func(arn string) string {
		return dashboardName(ctx.Project(), ctx.Stack(), arn)
	}).(pulumi.StringOutput)
	failuresQueue := pulumi.String("").ToStringOutput()
	if p.FailuresQueue != nil {
		failuresQueue = p.FailuresQueue.Name
	}
	body := pulumi.All(p.Stream.Name, p.Ingest.Function.Name, p.Processor.Function.Name, failuresQueue, p.PoisonQueue.Name, p.Mapping.Uuid).
		ApplyT(func(v []any) (string, error) {
			b, err := json.Marshal(buildDashboard(cfg, dashboardNames{
				Stream: v[0].(string), Ingest: v[1].(string), Processor: v[2].(string),
				FailuresQueue: v[3].(string), PoisonQueue: v[4].(string), MappingUUID: v[5].(string),
			}))
			if err != nil {
				return "", fmt.Errorf("encoding the dashboard body: %w", err)
			}
			return string(b), nil
		}).(pulumi.StringOutput)
	dashboard, err := cloudwatch.NewDashboard(ctx, "dashboard", &cloudwatch.DashboardArgs{
		DashboardName: name,
		DashboardBody: body,
	}, opts...)
	if err != nil {
		return nil, pulumi.StringOutput{}, fmt.Errorf("creating the dashboard: %w", err)
	}
	url := dashboard.DashboardName.ApplyT(func(n string) string {
		return fmt.Sprintf("https://%s.console.aws.amazon.com/cloudwatch/home?region=%s#dashboards:name=%s", cfg.Region, cfg.Region, n)
	}).(pulumi.StringOutput)
	return dashboard, url, nil
}

// buildDashboard lays out the pipeline from left to right: records in, processing, failures.
func buildDashboard(cfg *config.Config, n dashboardNames) dashboardBody {
	metric := func(title, stat string, period int, metrics ...[]any) widgetProperties {
		return widgetProperties{Title: title, Region: cfg.Region, View: "timeSeries", Stat: stat, Period: period, Metrics: metrics}
	}
	iteratorAge := metric("Processor iterator age (ms, max)", "Maximum", 60,
		[]any{"AWS/Lambda", "IteratorAge", "FunctionName", n.Processor})
	iteratorAge.Annotations = &annotations{Horizontal: []annotation{{
		Label: "alarm (streamfn:iteratorAgeAlarmSeconds)", Value: float64(cfg.IteratorAgeAlarmSeconds) * 1000,
	}}}

	// Records read: the mapping's own count when its metrics are on. Otherwise the stream's
	// GetRecords.Records stands in, which counts every reader of the stream and nothing read
	// through an enhanced fan-out consumer.
	read := []any{"AWS/Kinesis", "GetRecords.Records", "StreamName", n.Stream}
	if cfg.MappingMetrics {
		read = []any{"AWS/Lambda", "PolledEventCount", "EventSourceMappingUUID", n.MappingUUID}
	}
	panels := []widgetProperties{
		metric("Records in and out of the stream (sum)", "Sum", 60,
			[]any{"AWS/Kinesis", "IncomingRecords", "StreamName", n.Stream}, read),
		iteratorAge,
		metric("Concurrent executions (max)", "Maximum", 60,
			[]any{"AWS/Lambda", "ConcurrentExecutions", "FunctionName", n.Processor},
			[]any{"AWS/Lambda", "ConcurrentExecutions", "FunctionName", n.Ingest}),
		metric("Invocations, errors and throttles (sum)", "Sum", 60,
			[]any{"AWS/Lambda", "Invocations", "FunctionName", n.Ingest},
			[]any{"AWS/Lambda", "Invocations", "FunctionName", n.Processor},
			[]any{"AWS/Lambda", "Errors", "FunctionName", n.Ingest},
			[]any{"AWS/Lambda", "Errors", "FunctionName", n.Processor},
			[]any{"AWS/Lambda", "Throttles", "FunctionName", n.Ingest},
			[]any{"AWS/Lambda", "Throttles", "FunctionName", n.Processor}),
		// A batch's records over its duration is the rate R of the tuning guide (README).
		metric("Processor batches: records (avg, left) and duration ms (avg, right)", "Average", 60,
			[]any{cfg.MetricsNamespace, "Records", "FunctionName", n.Processor},
			[]any{"AWS/Lambda", "Duration", "FunctionName", n.Processor, map[string]string{"yAxis": "right"}}),
		// The exactly-once bookkeeping and what it costs (README, "Exactly once").
		metric("Processor exactly once: skipped, recovered, outside the guarantee (sum)", "Sum", 60,
			[]any{cfg.MetricsNamespace, "DuplicatesSkipped", "FunctionName", n.Processor},
			[]any{cfg.MetricsNamespace, "ReplaysSkipped", "FunctionName", n.Processor},
			[]any{cfg.MetricsNamespace, "Recovered", "FunctionName", n.Processor},
			[]any{cfg.MetricsNamespace, "DedupUnverified", "FunctionName", n.Processor},
			[]any{cfg.MetricsNamespace, "DedupEvicted", "FunctionName", n.Processor}),
		metric("Processor writes: write units (sum, left) and largest item bytes (max, right)", "Sum", 60,
			[]any{cfg.MetricsNamespace, "WriteUnits", "FunctionName", n.Processor},
			[]any{cfg.MetricsNamespace, "MaxItemBytes", "FunctionName", n.Processor, map[string]string{"stat": "Maximum", "yAxis": "right"}}),
	}
	waiting := [][]any{{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", n.PoisonQueue}}
	if n.FailuresQueue != "" {
		waiting = append(waiting, []any{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", n.FailuresQueue})
	}
	panels = append(panels, metric("Poison records (and failed batches with the queue) waiting (max)", "Maximum", 300, waiting...))
	panels = append(panels, metric("Stream writes throttled (sum)", "Sum", 60,
		[]any{"AWS/Kinesis", "WriteProvisionedThroughputExceeded", "StreamName", n.Stream}))
	if cfg.MappingMetrics {
		// The event-source mapping's event counts (metricsConfig EventCount), by its UUID
		// (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html).
		mapping := func(name string) []any {
			return []any{"AWS/Lambda", name, "EventSourceMappingUUID", n.MappingUUID}
		}
		panels = append(panels, metric("Mapping: records polled, filtered out, failed and dropped (sum)", "Sum", 60,
			mapping("PolledEventCount"), mapping("FilteredOutEventCount"),
			mapping("FailedInvokeEventCount"), mapping("DroppedEventCount")),
			// What the failed-batches alarm watches: records given up and sent to the
			// on-failure destination, for the redrive tool.
			metric("Mapping: records sent to the on-failure destination (sum)", "Sum", 60,
				mapping("OnFailureDestinationDeliveredEventCount")))
	}

	const width, height, perRow = 8, 6, 3
	body := dashboardBody{}
	for i, props := range panels {
		body.Widgets = append(body.Widgets, widget{
			Type: "metric", X: (i % perRow) * width, Y: (i / perRow) * height,
			Width: width, Height: height, Properties: props,
		})
	}
	return body
}
