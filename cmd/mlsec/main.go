// Command mlsec secures the machine-learning life cycle; see internal/cli.
package main

import (
	"os"

	"github.com/mlsec/mlsec/internal/cli"
)

func main() { os.Exit(cli.Run(os.Args, os.Stdout, os.Stderr)) }
