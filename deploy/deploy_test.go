package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"
)

// chartDir is the chart under test, relative to this package.
const chartDir = "helm/nordkapp42"

// kubeVersion is passed to helm template: a helm built with go install
// reports Kubernetes v1.20 as its default, older than the chart's
// kubeVersion constraint.
const kubeVersion = "1.33.0"

// scaleOut are the values of a release with a shared store and broker.
var scaleOut = []string{
	"--set", "secrets.databaseUrl=postgres://nordkapp42:pw@postgres:5432/nordkapp42",
	"--set", "secrets.redisUrl=redis://redis:6379/0",
}

// helmBinary finds helm on PATH or in $(go env GOPATH)/bin, where
// scripts/test.sh installs it. Without it the test skips, except under
// CI=true, where a missing helm is a broken pipeline.
func helmBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "helm")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("helm not found on PATH or in $(go env GOPATH)/bin; scripts/test.sh installs it")
	}
	t.Skip("helm not found (go install helm.sh/helm/v3/cmd/helm@v3.22.0); skipping the chart tests")
	return ""
}

// runHelm runs helm with args and a private home, so that it neither reads
// nor writes the user's helm configuration.
func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(helmBinary(t), args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// object is one rendered manifest, kept as YAML for decoding into the shape
// a test needs.
type object struct {
	Kind string
	Name string
	raw  []byte
}

// decode decodes the manifest into v.
func (o object) decode(t *testing.T, v any) {
	t.Helper()
	if err := yaml.Unmarshal(o.raw, v); err != nil {
		t.Fatalf("decode %s %s: %v", o.Kind, o.Name, err)
	}
}

// render runs helm template on the chart with extra args and returns the
// manifests by kind; a kind rendered twice fails the test, as the chart
// renders one of each.
func render(t *testing.T, args ...string) map[string]object {
	t.Helper()
	out, err := renderErr(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func renderErr(t *testing.T, args ...string) (map[string]object, error) {
	t.Helper()
	base := []string{"template", "nk", chartDir, "--namespace", "chat", "--kube-version", kubeVersion}
	out, err := runHelm(t, append(base, args...)...)
	if err != nil {
		return nil, err
	}
	objects := map[string]object{}
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parse the rendered chart: %v\n%s", err, out)
		}
		if doc == nil {
			continue
		}
		raw, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatalf("re-encode a manifest: %v", err)
		}
		var head struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
		}
		if err := yaml.Unmarshal(raw, &head); err != nil {
			t.Fatalf("read kind and name: %v", err)
		}
		if _, dup := objects[head.Kind]; dup {
			t.Fatalf("two %s manifests", head.Kind)
		}
		objects[head.Kind] = object{Kind: head.Kind, Name: head.Metadata.Name, raw: raw}
	}
	return objects, nil
}

// kinds returns the sorted kinds of objects.
func kinds(objects map[string]object) []string {
	var ks []string
	for k := range objects {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type deployment struct {
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Strategy struct {
			Type          string `yaml:"type"`
			RollingUpdate struct {
				MaxUnavailable any `yaml:"maxUnavailable"`
			} `yaml:"rollingUpdate"`
		} `yaml:"strategy"`
		Template struct {
			Spec struct {
				AutomountServiceAccountToken  *bool `yaml:"automountServiceAccountToken"`
				TerminationGracePeriodSeconds int   `yaml:"terminationGracePeriodSeconds"`
				SecurityContext               struct {
					RunAsNonRoot   *bool `yaml:"runAsNonRoot"`
					SeccompProfile struct {
						Type string `yaml:"type"`
					} `yaml:"seccompProfile"`
				} `yaml:"securityContext"`
				Containers []struct {
					Name  string `yaml:"name"`
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					Env []struct {
						Name  string `yaml:"name"`
						Value string `yaml:"value"`
					} `yaml:"env"`
					StartupProbe   *probe `yaml:"startupProbe"`
					LivenessProbe  *probe `yaml:"livenessProbe"`
					ReadinessProbe *probe `yaml:"readinessProbe"`
					Resources      struct {
						Requests map[string]any `yaml:"requests"`
						Limits   map[string]any `yaml:"limits"`
					} `yaml:"resources"`
					SecurityContext struct {
						RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
						ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
						AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
						Capabilities             struct {
							Drop []string `yaml:"drop"`
						} `yaml:"capabilities"`
					} `yaml:"securityContext"`
				} `yaml:"containers"`
				TopologySpreadConstraints []struct {
					TopologyKey string `yaml:"topologyKey"`
				} `yaml:"topologySpreadConstraints"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func isTrue(b *bool) bool { return b != nil && *b }

func TestChartLintsStrict(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"defaults":   nil,
		"scale-out":  append([]string{"--set", "replicaCount=3"}, scaleOut...),
		"monitoring": {"--set", "serviceMonitor.enabled=true", "--set", "prometheusRule.enabled=true"},
	} {
		if _, err := runHelm(t, append([]string{"lint", "--strict", chartDir}, args...)...); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestChartDefaults checks the single-node release the default values give:
// one SQLite pod that Kubernetes can probe, bound and restart safely.
func TestChartDefaults(t *testing.T) {
	t.Parallel()
	objects := render(t)
	want := []string{"ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Service", "ServiceAccount"}
	if diff := cmp.Diff(want, kinds(objects)); diff != "" {
		t.Errorf("rendered kinds (-want +got):\n%s", diff)
	}

	var d deployment
	objects["Deployment"].decode(t, &d)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1", d.Spec.Replicas)
	}
	// Two pods on their own SQLite files would split the users.
	if d.Spec.Strategy.Type != "Recreate" {
		t.Errorf("strategy = %q, want Recreate for the single SQLite pod", d.Spec.Strategy.Type)
	}
	checkPod(t, d)

	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	objects["ConfigMap"].decode(t, &cm)
	if got := cm.Data["NORDKAPP42_DATA_DIR"]; got != "/data" {
		t.Errorf("NORDKAPP42_DATA_DIR = %q, want /data", got)
	}
	shutdown, err := strconv.Atoi(strings.TrimSuffix(cm.Data["NORDKAPP42_SHUTDOWN_TIMEOUT"], "s"))
	if err != nil {
		t.Fatalf("NORDKAPP42_SHUTDOWN_TIMEOUT = %q, want whole seconds", cm.Data["NORDKAPP42_SHUTDOWN_TIMEOUT"])
	}
	if grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds; grace <= shutdown {
		t.Errorf("terminationGracePeriodSeconds = %d, want more than the shutdown timeout %ds", grace, shutdown)
	}

	var pdb struct {
		Spec struct {
			MaxUnavailable any `yaml:"maxUnavailable"`
			MinAvailable   any `yaml:"minAvailable"`
		} `yaml:"spec"`
	}
	objects["PodDisruptionBudget"].decode(t, &pdb)
	// minAvailable 1 with one replica would block every node drain.
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MinAvailable != nil {
		t.Errorf("PDB spec = %+v, want maxUnavailable only", pdb.Spec)
	}
}

// checkPod checks what every release's pods need: probes on the right
// endpoints and port, bounded resources, a GOMEMLIMIT under the memory limit
// and a locked-down security context.
func checkPod(t *testing.T, d deployment) {
	t.Helper()
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]

	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if diff := cmp.Diff(map[string]int{"http": 8080, "grpc": 9090}, ports); diff != "" {
		t.Errorf("container ports (-want +got):\n%s", diff)
	}
	for _, p := range []struct {
		name  string
		probe *probe
		path  string
	}{
		{"startupProbe", c.StartupProbe, "/healthz"},
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
	} {
		switch {
		case p.probe == nil || p.probe.HTTPGet == nil:
			t.Errorf("%s missing or not an httpGet probe", p.name)
		case p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port != "http":
			t.Errorf("%s = %s on port %s, want %s on port http", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port, p.path)
		}
	}

	for _, res := range []string{"cpu", "memory"} {
		if c.Resources.Requests[res] == nil {
			t.Errorf("no %s request", res)
		}
		if c.Resources.Limits[res] == nil {
			t.Errorf("no %s limit", res)
		}
	}
	var memLimit string
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			memLimit = e.Value
		}
	}
	goLimit, err := bytesOf(memLimit)
	if err != nil {
		t.Errorf("GOMEMLIMIT: %v", err)
	}
	limit, err := bytesOf(fmt.Sprint(c.Resources.Limits["memory"]))
	if err != nil {
		t.Errorf("memory limit: %v", err)
	}
	if ratio := float64(goLimit) / float64(limit); err == nil && (ratio < 0.8 || ratio > 0.95) {
		t.Errorf("GOMEMLIMIT %s is %.0f%% of the memory limit %v, want about 90%%", memLimit, 100*ratio, c.Resources.Limits["memory"])
	}

	if !isTrue(pod.SecurityContext.RunAsNonRoot) || !isTrue(c.SecurityContext.RunAsNonRoot) {
		t.Error("runAsNonRoot not set on the pod and the container")
	}
	if pod.SecurityContext.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("seccomp profile %q, want RuntimeDefault", pod.SecurityContext.SeccompProfile.Type)
	}
	if !isTrue(c.SecurityContext.ReadOnlyRootFilesystem) {
		t.Error("root filesystem not read-only")
	}
	if c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
		t.Error("privilege escalation not disallowed")
	}
	if !slices.Equal(c.SecurityContext.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("dropped capabilities %v, want [ALL]", c.SecurityContext.Capabilities.Drop)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("service account token mounted; nordkapp42 does not call the Kubernetes API")
	}
	var keys []string
	for _, s := range pod.TopologySpreadConstraints {
		keys = append(keys, s.TopologyKey)
	}
	if diff := cmp.Diff([]string{"topology.kubernetes.io/zone", "kubernetes.io/hostname"}, keys); diff != "" {
		t.Errorf("topology spread keys (-want +got):\n%s", diff)
	}
}

// bytesOf parses a byte size in the forms GOMEMLIMIT (MiB) and Kubernetes
// quantities (Mi) use.
func bytesOf(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse size %q: %w", s, err)
			}
			return v * u.mult, nil
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse size %q: %w", s, err)
	}
	return v, nil
}

// TestChartScaleOut checks a release with PostgreSQL and Redis: the
// autoscaler owns the replica count and rollouts never take capacity away.
func TestChartScaleOut(t *testing.T) {
	t.Parallel()
	objects := render(t, append([]string{"--set", "replicaCount=3"}, scaleOut...)...)
	for _, kind := range []string{"HorizontalPodAutoscaler", "PodDisruptionBudget", "Deployment"} {
		if _, ok := objects[kind]; !ok {
			t.Fatalf("no %s; rendered %v", kind, kinds(objects))
		}
	}

	var hpa struct {
		Spec struct {
			ScaleTargetRef struct {
				Kind string `yaml:"kind"`
				Name string `yaml:"name"`
			} `yaml:"scaleTargetRef"`
			MinReplicas int `yaml:"minReplicas"`
			MaxReplicas int `yaml:"maxReplicas"`
			Metrics     []struct {
				Type     string `yaml:"type"`
				Resource struct {
					Name string `yaml:"name"`
				} `yaml:"resource"`
			} `yaml:"metrics"`
		} `yaml:"spec"`
	}
	objects["HorizontalPodAutoscaler"].decode(t, &hpa)
	if got, want := hpa.Spec.ScaleTargetRef, objects["Deployment"]; got.Kind != "Deployment" || got.Name != want.Name {
		t.Errorf("HPA scales %s %s, want Deployment %s", got.Kind, got.Name, want.Name)
	}
	var metrics []string
	for _, m := range hpa.Spec.Metrics {
		metrics = append(metrics, m.Type+"/"+m.Resource.Name)
	}
	if diff := cmp.Diff([]string{"Resource/cpu", "Resource/memory"}, metrics); diff != "" {
		t.Errorf("HPA metrics (-want +got):\n%s", diff)
	}
	if hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas < hpa.Spec.MinReplicas {
		t.Errorf("HPA replicas %d..%d, want at least 2 and min <= max", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
	}

	var d deployment
	objects["Deployment"].decode(t, &d)
	// A replicas field would reset the autoscaler's count on every upgrade.
	if d.Spec.Replicas != nil {
		t.Errorf("Deployment sets replicas %d while the HPA owns them", *d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != "RollingUpdate" || fmt.Sprint(d.Spec.Strategy.RollingUpdate.MaxUnavailable) != "0" {
		t.Errorf("strategy %+v, want RollingUpdate with maxUnavailable 0", d.Spec.Strategy)
	}
	checkPod(t, d)

	var secret struct {
		Data map[string]string `yaml:"data"`
	}
	objects["Secret"].decode(t, &secret)
	for _, key := range []string{"jwt-secret", "internal-token", "database-url", "redis-url"} {
		if secret.Data[key] == "" {
			t.Errorf("Secret has no %s", key)
		}
	}
}

// TestChartRefusesUnsafeSettings checks that settings which would deploy a
// broken release fail the render with a message naming the fix.
func TestChartRefusesUnsafeSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"replicas on SQLite", []string{"--set", "replicaCount=2"}, "replicaCount > 1 needs secrets.databaseUrl"},
		{"replicas without Redis", []string{"--set", "replicaCount=2", "--set", "secrets.databaseUrl=postgres://db/nk"}, "replicaCount > 1 needs"},
		{"grace period shorter than the drain", []string{"--set", "terminationGracePeriodSeconds=25"}, "terminationGracePeriodSeconds must exceed"},
		{"existing secret and values", []string{"--set", "secrets.existingSecret=mine", "--set", "secrets.jwtSecret=x"}, "either secrets.existingSecret"},
		{"unknown value", []string{"--set", "replicas=2"}, "additional properties"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := renderErr(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("render error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	// The guard is about SQLite, not about replicas: with a shared store and
	// broker the same count renders.
	if _, err := renderErr(t, append([]string{"--set", "replicaCount=2", "--set", "autoscaling.enabled=false"}, scaleOut...)...); err != nil {
		t.Errorf("replicaCount=2 with PostgreSQL and Redis: %v", err)
	}
}

// exportedMetrics are the metric names nordkapp42 exposes on /metrics plus
// the Go and process collectors' names the alerts use.
var exportedMetrics = []string{
	"nordkapp42_connections_open", "nordkapp42_subscriptions_active",
	"nordkapp42_events_published_total", "nordkapp42_events_delivered_total",
	"nordkapp42_delivery_latency_seconds", "nordkapp42_slow_consumer_disconnects_total",
	"nordkapp42_graphql_operations_total", "nordkapp42_graphql_operation_duration_seconds",
	"nordkapp42_store_query_duration_seconds", "nordkapp42_broker_reconnects_total",
	"nordkapp42_reminders_scheduled_total", "nordkapp42_reminders_fired_total",
	"nordkapp42_reminders_late_total", "nordkapp42_reminder_lateness_seconds",
	"nordkapp42_grpc_requests_total", "nordkapp42_ready", "nordkapp42_build_info",
}

// metricName matches a nordkapp42 series in PromQL; histogram suffixes are
// stripped before the lookup.
var metricName = regexp.MustCompile(`nordkapp42_[a-z0-9_]+`)

// TestChartMonitoring checks the optional Prometheus Operator resources:
// the ServiceMonitor scrapes /metrics on the http port and every alert uses
// a metric nordkapp42 exports.
func TestChartMonitoring(t *testing.T) {
	t.Parallel()
	objects := render(t, "--set", "serviceMonitor.enabled=true", "--set", "prometheusRule.enabled=true")

	var sm struct {
		Spec struct {
			Endpoints []struct {
				Port string `yaml:"port"`
				Path string `yaml:"path"`
			} `yaml:"endpoints"`
		} `yaml:"spec"`
	}
	objects["ServiceMonitor"].decode(t, &sm)
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "http" || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %+v, want port http path /metrics", sm.Spec.Endpoints)
	}

	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert string `yaml:"alert"`
					Expr  string `yaml:"expr"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		} `yaml:"spec"`
	}
	objects["PrometheusRule"].decode(t, &rule)
	var alerts []string
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			if !strings.Contains(r.Expr, `namespace="chat"`) {
				t.Errorf("%s does not select the release's namespace: %s", r.Alert, r.Expr)
			}
			for _, m := range metricName.FindAllString(r.Expr, -1) {
				base := strings.TrimSuffix(m, "_bucket")
				if !slices.Contains(exportedMetrics, base) {
					t.Errorf("%s uses %s, which nordkapp42 does not export", r.Alert, m)
				}
			}
		}
	}
	want := []string{
		"NordkappNotReady", "NordkappHighDeliveryLatencyP99", "NordkappSlowConsumersSpike",
		"NordkappGraphQLErrorRate", "NordkappRemindersLate", "NordkappMemoryHigh",
	}
	if diff := cmp.Diff(want, alerts); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}
