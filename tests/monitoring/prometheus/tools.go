//go:build tools

// Package prometheus pins the commands scripts/setup builds; it is never compiled into anything itself.
package prometheus

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
