// Command infra is the streamfn Pulumi program. Pulumi.yaml points here (main: infra); the
// program itself is in infra/program so that tests, the offline plan and the local run call
// the very same code.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/streamfn/streamfn/infra/program"
)

func main() {
	pulumi.Run(program.Run)
}
