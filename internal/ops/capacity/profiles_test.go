package capacity

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/infra/stackconfig"
	"github.com/streamfn/streamfn/internal/aws/lambdaquota"
)

func codes(ws []Warning) []string {
	var c []string
	for _, w := range ws {
		c = append(c, w.Code)
	}
	return c
}

func load(rate float64, mutate ...func(*Load)) Load {
	l := DefaultLoad()
	l.Rate = rate
	l.Users = max(10, int(rate*20))
	for _, m := range mutate {
		m(&l)
	}
	return l
}

// Load profiles from 10 to 1,000,000 events/s: each plan passes the program's validation
// (Size loads it through infra/stackconfig and infra/config) and raises exactly the warnings
// its load should.
func TestLoadProfiles(t *testing.T) {
	for _, p := range []struct {
		name     string
		load     Load
		mode     string
		warnings []string
	}{
		{"10/s", load(10), config.StreamModeProvisioned, nil},
		{"100/s of 4 KB, batched clients", load(100, func(l *Load) { l.EventBytes = 4000; l.Batch = 50 }), config.StreamModeProvisioned, nil},
		{"1,000/s", load(1000), config.StreamModeProvisioned, nil},
		{"5,000/s (prod)", DefaultLoad(), config.StreamModeProvisioned, nil},
		{"20,000/s, x86, 300 ms latency", load(20000, func(l *Load) { l.Arch = "x86_64"; l.Latency = 300 * time.Millisecond }), config.StreamModeProvisioned, nil},
		{"spiky: 2,000/s, peaks of 20,000/s", load(2000, func(l *Load) { l.PeakRate = 20000 }), config.StreamModeOnDemand, []string{WarnLambdaQuota, WarnOnDemandStart}},
		{"a hot user at 60% of a shard", load(5000, func(l *Load) { l.HotUserShare = 0.12 }), config.StreamModeProvisioned, []string{WarnHotUserShard, WarnHotUserSeen}},
		{"resharding a 1-shard stream to prod", load(5000, func(l *Load) { l.Users = 100000; l.CurrentShards = 1 }), config.StreamModeProvisioned, []string{WarnShardSteps}},
		{"active users: 1 event/s each", load(5000, func(l *Load) { l.Users = 5000 }), config.StreamModeProvisioned, []string{WarnSeenSetCost}},
		{"100,000/s", load(100000), config.StreamModeProvisioned, []string{WarnLambdaQuota}},
		{"1,000,000/s", load(1000000), config.StreamModeProvisioned, []string{WarnShardQuota, WarnLambdaQuota}},
	} {
		t.Run(p.name, func(t *testing.T) {
			s := size(t, p.load)
			// The stack file the tool writes loads and validates as the program loads it.
			dir := t.TempDir()
			project, err := os.ReadFile(filepath.Join(projectDir, "Pulumi.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			_ = os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), project, 0o644)
			_ = os.WriteFile(filepath.Join(dir, "Pulumi.profile.yaml"), []byte(s.StackFile("profile", "us-east-1")), 0o644)
			values, err := stackconfig.Load(dir, "profile")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := config.Load(func(k string) (string, bool) { v, ok := values[k]; return v, ok }); err != nil {
				t.Fatalf("the written stack fails validation: %v", err)
			}
			if s.Config.StreamMode != p.mode {
				t.Errorf("streamMode %s, want %s", s.Config.StreamMode, p.mode)
			}
			if got := codes(s.Warnings); !slices.Equal(got, p.warnings) {
				t.Errorf("warnings %v, want %v:\n%v", got, p.warnings, s.Warnings)
			}
			if s.Bill.Total <= 0 {
				t.Errorf("total %g", s.Bill.Total)
			}
			// The planned stack keeps up with its own peak and carries the load's writes.
			if slices.ContainsFunc(s.Warnings, func(w Warning) bool { return strings.HasPrefix(w.Code, "throttle") }) {
				t.Errorf("the planned stack throttles its own load: %v", s.Warnings)
			}
			t.Logf("%s: %d shards x %d, batch %d, window %d, processor %d, ingest %d/%d; $%.2f a month",
				s.Config.StreamMode, s.Config.ShardCount, s.Config.ParallelizationFactor, s.Config.BatchSize, s.Config.BatchWindowSeconds,
				s.Config.ProcessorConcurrency, s.Config.IngestConcurrency, s.Config.IngestProvisionedConcurrency, s.Bill.Total)
		})
	}
}

// Impossible loads are refused with a message naming the flag and the limit.
func TestImpossibleLoads(t *testing.T) {
	for _, c := range []struct {
		name string
		load Load
		want string
	}{
		{"a single user over a shard", load(5000, func(l *Load) { l.HotUserShare = 0.3 }), "over one shard's 1000 records/s"},
		{"a single user's bytes over a shard", load(2000, func(l *Load) { l.HotUserShare = 0.5; l.EventBytes = 2000 }), "1 MiB/s"},
		{"an ingest request over 6 MB", load(5000, func(l *Load) { l.Batch = 500; l.MaxEventBytes = 100000 }), "over Lambda's invocation payload of 6291456 bytes; send at most 57 events"},
		// 500 x 12,582 = 6,291,000 bytes of events, under 6 MiB, but the
		// event Lambda counts (separators, escaping, envelope) is over:
		// the local Function URL answers such a request 413.
		{"an ingest request whose event is over 6 MiB", load(5000, func(l *Load) { l.Batch = 500; l.MaxEventBytes = 12582 }), "over Lambda's invocation payload of 6291456 bytes; send at most 454 events"},
		{"an event over Kinesis's record", load(5000, func(l *Load) { l.MaxEventBytes = 2 << 20 }), "1 MiB record"},
		{"no rate", load(0), "-rate 0"},
		{"two users at 5,000/s", load(5000, func(l *Load) { l.Users = 2 }), "each user sends 2500 events/s"},
		{"a peak below the mean", load(5000, func(l *Load) { l.PeakRate = 100 }), "-peak-rate"},
		{"a processor too slow for any number of lanes", load(50, func(l *Load) { l.Users = 20; l.RecordsPerS = 1 }), "more shards cannot help"},
		{"an unknown architecture", load(5000, func(l *Load) { l.Arch = "ppc" }), "-arch"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Size(c.load, projectDir, DefaultPrices())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// An ingest request may fill Lambda's invocation payload, 6 MiB (6,291,456 bytes), with
// room for the event around the body: the most events the planner allows fit, one
// more does not.
func TestIngestRequestUpToLambdasPayload(t *testing.T) {
	for _, size := range []int{1000, 12582, 100000} {
		n := maxEventsPerRequest(size)
		if got := ingestRequestBytes(n, size); got > lambdaquota.SyncInvocationPayloadBytes {
			t.Errorf("%d events of %d bytes: %d bytes, over the quota", n, size, got)
		}
		if got := ingestRequestBytes(n+1, size); got <= lambdaquota.SyncInvocationPayloadBytes {
			t.Errorf("%d events of %d bytes: %d bytes, within the quota, so %d is not the most", n+1, size, got, n)
		}
	}
	l := load(5000, func(l *Load) { l.Batch = 454; l.MaxEventBytes = 12582 })
	if err := l.Check(); err != nil {
		t.Errorf("454 x 12,582 bytes: %v", err)
	}
}

func prodConfig(t *testing.T) *config.Config {
	t.Helper()
	values, err := stackconfig.Load(projectDir, "prod")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := values[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Check on a configured stack: each limit fires where it should and not elsewhere.
func TestCheckConfiguredStack(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  func(*config.Config)
		load Load
		want []string
	}{
		{"prod at its load", nil, DefaultLoad(), nil},
		{"prod at 4x its load", nil, load(20000, func(l *Load) { l.Users = 100000 }), []string{WarnSeenSetCost, WarnThrottleShards, WarnThrottleProcessor, WarnThrottleIngest}},
		{"batches of 10,000 large events", func(c *config.Config) { c.BatchSize = 10000 }, load(5000, func(l *Load) { l.Users = 100000; l.MaxEventBytes = 10000 }), []string{WarnPayload}},
		// A 12,000-byte event is 16,300 bytes of invocation (base64 and metadata): 385 of them
		// are 6,275,500 bytes, within 6 MiB; 386 are 6,291,800, over it.
		{"batches that fill Lambda's payload", func(c *config.Config) { c.BatchSize = 385 }, load(5000, func(l *Load) { l.Users = 100000; l.MaxEventBytes = 12000 }), nil},
		{"batches one record over Lambda's payload", func(c *config.Config) { c.BatchSize = 386 }, load(5000, func(l *Load) { l.Users = 100000; l.MaxEventBytes = 12000 }), []string{WarnPayload}},
		{"a hot user written in every small batch", func(c *config.Config) { c.BatchSize = 10; c.BatchWindowSeconds = 0 },
			load(5000, func(l *Load) { l.Users = 100000; l.HotUserShare = 0.02 }), []string{WarnHotUserItem, WarnHotUserSeen, WarnThrottleProcessor}},
		{"one lane too slow", func(c *config.Config) { c.ParallelizationFactor = 1; c.ShardCount = 1; c.ProcessorConcurrency = 2 },
			load(900, func(l *Load) { l.Users = 100000 }), []string{WarnThrottleProcessor}},
		{"reserved processor below the lanes", func(c *config.Config) { c.ProcessorConcurrency = 10 }, DefaultLoad(), []string{WarnThrottleProcessor}},
		{"provisioned ingest without a reservation", func(c *config.Config) { c.IngestConcurrency = config.Unreserved }, DefaultLoad(), []string{WarnProvisionedQuota}},
		{"ON_DEMAND over its default limit", func(c *config.Config) {
			c.StreamMode = config.StreamModeOnDemand
			c.ShardCount = 0
			c.ProcessorConcurrency = config.Unreserved
			c.IngestConcurrency = config.Unreserved
			c.IngestProvisionedConcurrency = 0
		},
			load(300000, func(l *Load) { l.Users = 1000000 }), []string{WarnShardQuota, WarnSeenSetCost, WarnOnDemandStart, WarnOnDemandMax}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := prodConfig(t)
			if c.cfg != nil {
				c.cfg(cfg)
			}
			ws := Check(cfg, c.load)
			if got := codes(ws); !slices.Equal(got, c.want) {
				t.Errorf("warnings %v, want %v:\n%v", got, c.want, ws)
			}
		})
	}
}

func TestPrices(t *testing.T) {
	p := DefaultPrices()
	if p.Region != "us-east-1" || p.Date == "" {
		t.Errorf("region %q date %q", p.Region, p.Date)
	}
	for _, k := range priceKeys {
		if pr := p.Prices[k]; pr.USD <= 0 || pr.Unit == "" || !strings.HasPrefix(pr.Source, "https://aws.amazon.com/") {
			t.Errorf("%s: %+v needs a price, a unit and an AWS pricing page", k, pr)
		}
	}
	if _, err := ForRegion("eu-west-1", ""); err == nil || !strings.Contains(err.Error(), "-prices FILE") {
		t.Errorf("another region without a price file: %v", err)
	}
	if _, err := ForRegion("us-east-1", ""); err != nil {
		t.Error(err)
	}
}
