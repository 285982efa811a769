package metricstest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// Paths of the monitoring files, relative to the repository root.
const (
	DashboardPath = "deploy/grafana/dashboards/teredo-relay.json"
	RulesPath     = "deploy/prometheus/teredo-relay.rules.yml"
)

var metricName = regexp.MustCompile(`\b(?:teredo_relay|go|process)_[a-z0-9_]+\b`)

// MetricNames returns the metric names (teredo_relay_*, go_*, process_*) a
// PromQL expression mentions.
func MetricNames(expr string) []string { return metricName.FindAllString(expr, -1) }

// DeployExprs returns every PromQL expression of the Grafana dashboard and
// the alert rules under repoRoot, each with where it comes from.
func DeployExprs(repoRoot string) (map[string]string, error) {
	exprs := map[string]string{} // expr -> origin
	raw, err := os.ReadFile(filepath.Join(repoRoot, DashboardPath))
	if err != nil {
		return nil, err
	}
	var dash struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		return nil, fmt.Errorf("parse %s: %w", DashboardPath, err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var walk func([]json.RawMessage) error
	walk = func(ps []json.RawMessage) error {
		for _, r := range ps {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				return fmt.Errorf("parse %s: %w", DashboardPath, err)
			}
			for _, t := range p.Targets {
				exprs[t.Expr] = "dashboard panel " + p.Title
			}
			if err := walk(p.Panels); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(dash.Panels); err != nil {
		return nil, err
	}
	raw, err = os.ReadFile(filepath.Join(repoRoot, RulesPath))
	if err != nil {
		return nil, err
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		return nil, fmt.Errorf("parse %s: %w", RulesPath, err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs[r.Expr] = "alert " + r.Alert
		}
	}
	return exprs, nil
}
