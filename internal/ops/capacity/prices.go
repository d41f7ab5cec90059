// Package capacity is the capacity planner's model: from a load description (events/s, event
// sizes, users) to stack settings, a monthly bill and the limits the load would hit. The size
// tool (scripts/size) and the offline plan's -cost flags both use it, so one model prices a
// planned stack and a configured one alike. Settings are checked by infra/config, never here.
package capacity

import (
	_ "embed"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed prices-us-east-1.yaml
var defaultPrices []byte

// Price is one list price.
type Price struct {
	USD    float64 `yaml:"usd"`
	Unit   string  `yaml:"unit"`
	Source string  `yaml:"source"`
}

// Prices is a price file: the region it is for, the date it was checked and every price.
type Prices struct {
	Region   string           `yaml:"region"`
	Date     string           `yaml:"date"`
	Currency string           `yaml:"currency"`
	Prices   map[string]Price `yaml:"prices"`
}

// priceKeys are the prices the model bills with; a price file must hold each.
var priceKeys = []string{
	"kinesis/shard-hour", "kinesis/put-payload-unit", "kinesis/extended-retention-shard-hour", "kinesis/long-term-retention-gb-month",
	"kinesis/on-demand-stream-hour", "kinesis/on-demand-data-in-gb", "kinesis/on-demand-data-out-gb", "kinesis/on-demand-extended-retention-gb-month",
	"kinesis/efo-consumer-shard-hour", "kinesis/efo-data-out-gb",
	"lambda/request", "lambda/gb-second-arm64", "lambda/gb-second-x86_64", "lambda/provisioned-gb-second-arm64", "lambda/provisioned-gb-second-x86_64",
	"dynamodb/write-request-unit", "dynamodb/read-request-unit", "dynamodb/storage-gb-month",
	"sqs/request", "s3/put-request", "s3/storage-gb-month",
	"cloudwatch/alarm-month", "cloudwatch/dashboard-month", "cloudwatch/logs-ingestion-gb", "cloudwatch/custom-metric-month",
	"kms/key-month", "kms/request",
}

// DefaultPrices are the us-east-1 prices shipped in prices-us-east-1.yaml.
func DefaultPrices() *Prices {
	p, err := parsePrices(defaultPrices, "prices-us-east-1.yaml")
	if err != nil {
		panic(err) // a test reads the embedded file
	}
	return p
}

// ReadPrices reads a price file of the shape of prices-us-east-1.yaml.
func ReadPrices(path string) (*Prices, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the price file: %w", err)
	}
	return parsePrices(data, path)
}

func parsePrices(data []byte, name string) (*Prices, error) {
	var p Prices
	if err := yaml.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("parsing the price file %s: %w", name, err)
	}
	var missing []string
	for _, k := range priceKeys {
		if pr, ok := p.Prices[k]; !ok || pr.USD < 0 {
			missing = append(missing, k)
		}
	}
	switch {
	case p.Region == "" || p.Date == "":
		return nil, fmt.Errorf("price file %s: needs region and date (when the prices were checked); see internal/ops/capacity/prices-us-east-1.yaml", name)
	case len(missing) > 0:
		sort.Strings(missing)
		return nil, fmt.Errorf("price file %s: lacks a price (usd >= 0) for %s; every key of internal/ops/capacity/prices-us-east-1.yaml is needed", name, strings.Join(missing, ", "))
	}
	return &p, nil
}

// ForRegion returns the prices for region: the given file's when one was read, else the
// shipped us-east-1 prices. Another region without a file is refused: prices differ by region
// and a wrong bill is worse than none.
func ForRegion(region, file string) (*Prices, error) {
	p := DefaultPrices()
	if file != "" {
		var err error
		if p, err = ReadPrices(file); err != nil {
			return nil, err
		}
	}
	if p.Region != region {
		if file == "" {
			return nil, fmt.Errorf("region %s: the planner ships prices for %s only; write a price file for %s in the shape of internal/ops/capacity/prices-us-east-1.yaml (from https://aws.amazon.com/pricing/) and pass it with -prices FILE",
				region, p.Region, region)
		}
		return nil, fmt.Errorf("region %s: the price file %s is for %s; pass a file for %s", region, file, p.Region, region)
	}
	return p, nil
}

func (p *Prices) get(key string) Price { return p.Prices[key] }
