// Package sizeview prints the capacity planner's bill and warnings for the size tool and the
// offline plan's cost flags alike: one table, two tools.
package sizeview

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/streamfn/streamfn/internal/ops/capacity"
)

// PrintBill writes the cost table.
func PrintBill(w io.Writer, b capacity.Bill) {
	fmt.Fprintf(w, "Monthly cost (%s list prices of %s, 730 hours):\n", b.Region, b.PricesDated)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "service\titem\tquantity\tunit\tunit price USD\tUSD\t")
	items := append([]capacity.Item(nil), b.Items...)
	sort.SliceStable(items, func(i, j int) bool { return items[i].Service < items[j].Service })
	for _, it := range items {
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%.10g\t%.2f\t\n", it.Service, it.Item, it.Quantity, it.Unit, it.UnitPriceUSD, it.USD)
	}
	fmt.Fprintf(tw, "total\t\t\t\t\t%.2f\t\n", b.Total)
	tw.Flush()
}

// PrintWarnings writes the limits and risks.
func PrintWarnings(w io.Writer, ws []capacity.Warning) {
	if len(ws) == 0 {
		fmt.Fprintln(w, "\nLimits and risks: none at this load.")
		return
	}
	fmt.Fprintln(w, "\nLimits and risks:")
	for _, x := range ws {
		fmt.Fprintf(w, "  - %s\n", x)
	}
}

// PrintComparison writes the Powertools comparison.
func PrintComparison(w io.Writer, c capacity.Comparison) {
	fmt.Fprintf(w, "\nCompared with %s:\n", c.Pattern)
	fmt.Fprintf(w, "  DynamoDB write units per event %.3f against %.0f; DynamoDB $%.2f against $%.2f a month; total $%.2f against $%.2f\n",
		c.WriteUnitsPerEvent, c.PowertoolsWriteUnitsPerEvent, c.DynamoDBUSD, c.PowertoolsDynamoDBUSD, c.TotalUSD, c.PowertoolsTotalUSD)
}
