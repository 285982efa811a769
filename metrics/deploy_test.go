package metrics_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/teredorelay/teredorelay/internal/testenv"
	"github.com/teredorelay/teredorelay/metrics"
	"github.com/teredorelay/teredorelay/metrics/metricstest"
)

const (
	dashboardPath    = "../deploy/grafana/dashboards/teredo-relay.json"
	provisioningPath = "../deploy/grafana/provisioning/dashboards/teredo-relay.yaml"
	rulesPath        = "../deploy/prometheus/teredo-relay.rules.yml"
	rulesTestPath    = "../deploy/prometheus/teredo-relay.rules.test.yml"
	promConfigPath   = "../deploy/prometheus/prometheus.example.yml"
	dashboardUID     = "teredo-relay-overview"
)

// knownMetrics is every metric name a scrape of the daemon carries: the
// collector's Defs and the Go runtime and process collectors' families.
func knownMetrics(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	for _, d := range metrics.Defs {
		known[d.Name] = true
	}
	mfs, err := metrics.NewRegistry(metricstest.Sample(), testBuild).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		known[mf.GetName()] = true
	}
	return known
}

type panel struct {
	Title      string            `json:"title"`
	Type       string            `json:"type"`
	Datasource *json.RawMessage  `json:"datasource"`
	Targets    []json.RawMessage `json:"targets"`
	Panels     []panel           `json:"panels"`
}

type dashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type target struct {
	Expr       string `json:"expr"`
	Datasource struct {
		UID string `json:"uid"`
	} `json:"datasource"`
}

func loadDashboard(t *testing.T) (dashboard, []string) {
	t.Helper()
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("parse %s: %v", dashboardPath, err)
	}
	var exprs []string
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, raw := range p.Targets {
				var tg target
				if err := json.Unmarshal(raw, &tg); err != nil {
					t.Fatalf("panel %q: %v", p.Title, err)
				}
				if tg.Datasource.UID != "${datasource}" {
					t.Errorf("panel %q target uses datasource %q, want the ${datasource} variable", p.Title, tg.Datasource.UID)
				}
				exprs = append(exprs, tg.Expr)
			}
		}
	}
	walk(d.Panels)
	return d, exprs
}

func TestDashboardShape(t *testing.T) {
	d, exprs := loadDashboard(t)
	if d.UID != dashboardUID {
		t.Errorf("uid = %q, want the stable %q", d.UID, dashboardUID)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" || vars["instance"] != "query" || vars["job"] != "query" {
		t.Errorf("template variables %v: want datasource (datasource), job and instance (query)", vars)
	}
	// The rows the issue asks for, each with a query on its metric.
	for _, want := range []string{
		"teredo_relay_packets_total", "teredo_relay_bytes_total", "teredo_relay_drops_total",
		"teredo_relay_peers", "teredo_relay_peers_capacity", "teredo_relay_bubbles_sent_total",
		"teredo_relay_icmpv6_errors_sent_total", "teredo_relay_ratelimit_packets_per_second",
		"teredo_relay_afxdp_ring_events_total", "teredo_relay_ready", "teredo_relay_queue_info",
	} {
		found := false
		for _, e := range exprs {
			for _, m := range metricstest.MetricNames(e) {
				found = found || m == want
			}
		}
		if !found {
			t.Errorf("no dashboard panel queries %s", want)
		}
	}
	for _, e := range exprs {
		if !strings.Contains(e, `instance=~"$instance"`) {
			t.Errorf("query does not filter on $instance: %s", e)
		}
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert  string `yaml:"alert"`
			Record string `yaml:"record"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	raw, err := os.ReadFile(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(raw, &rf); err != nil {
		t.Fatalf("parse %s: %v", rulesPath, err)
	}
	return rf
}

// Every metric the dashboard and the alert rules query is one the daemon
// exports.
func TestDeployReferencesExistingMetrics(t *testing.T) {
	known := knownMetrics(t)
	exprs, err := metricstest.DeployExprs("..")
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string][]string{}
	for e, origin := range exprs {
		for _, m := range metricstest.MetricNames(e) {
			refs[m] = append(refs[m], origin)
		}
	}
	if len(refs) < 20 {
		t.Fatalf("only %d metrics referenced: the extraction is broken", len(refs))
	}
	names := make([]string, 0, len(refs))
	for m := range refs {
		names = append(names, m)
	}
	sort.Strings(names)
	for _, m := range names {
		if !known[m] {
			t.Errorf("%s (used by %s) is not exported by the daemon", m, strings.Join(refs[m], ", "))
		}
	}
	alerts := map[string]bool{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
		}
	}
	for _, a := range []string{"TeredoRelayNotReady", "TeredoRelayDropsRising", "TeredoRelayPeerTableNearlyFull", "TeredoRelayRingDrops"} {
		if !alerts[a] {
			t.Errorf("alert %s missing", a)
		}
	}
}

func TestPromtoolRules(t *testing.T) {
	testenv.RequireBinary(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", rulesPath},
		{"test", "rules", rulesTestPath},
		{"check", "config", promConfigPath},
	} {
		out, err := exec.Command("promtool", args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// The dashboard's PromQL parses: each query, with Grafana's variables
// substituted, becomes a recording rule that promtool checks.
func TestPromtoolDashboardQueries(t *testing.T) {
	testenv.RequireBinary(t, "promtool")
	_, exprs := loadDashboard(t)
	r := strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*", "$job", ".*")
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for i, e := range exprs {
		rules = append(rules, rule{Record: "dashboard:query" + string(rune('a'+i/26)) + string(rune('a'+i%26)), Expr: r.Replace(e)})
	}
	doc := map[string]any{"groups": []map[string]any{{"name": "dashboard", "rules": rules}}}
	raw, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("promtool", "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("dashboard queries do not parse: %v\n%s", err, out)
	}
}

func TestGrafanaProvisioning(t *testing.T) {
	raw, err := os.ReadFile(provisioningPath)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	if p.APIVersion != 1 || len(p.Providers) != 1 || p.Providers[0].Type != "file" || !filepath.IsAbs(p.Providers[0].Options.Path) {
		t.Fatalf("provisioning %+v", p)
	}
}
