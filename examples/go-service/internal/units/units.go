// Package units converts between units of length: the service's logic, apart from HTTP.
package units

import (
	"fmt"
	"math"
)

// metres per unit
var perUnit = map[string]float64{
	"mm": 0.001,
	"cm": 0.01,
	"m":  1,
	"km": 1000,
	"in": 0.0254,
	"ft": 0.3048,
	"mi": 1609.344,
}

// Convert returns value in `from` units expressed in `to` units, rounded to 6 decimals.
func Convert(value float64, from, to string) (float64, error) {
	f, ok := perUnit[from]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q", from)
	}
	t, ok := perUnit[to]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q", to)
	}
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return 0, fmt.Errorf("value must be a finite number")
	}
	return math.Round(value*f/t*1e6) / 1e6, nil
}
