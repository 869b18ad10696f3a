package deploy

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// rendered is what an overlay renders, decoded.
type rendered struct {
	deployments []appsv1.Deployment
	services    []corev1.Service
	configMaps  []corev1.ConfigMap
	pdbs        []policyv1.PodDisruptionBudget
	hpas        []autoscalingv2.HorizontalPodAutoscaler
	jobs        []batchv1.Job
	pods        []corev1.Pod // a chart's test pod
}

// render builds dir with kustomize, as `kubectl kustomize dir` does, and
// decodes what it renders (decode).
func render(t *testing.T, dir string) rendered {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var out rendered
	for _, r := range m.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		out.decode(t, dir, b)
	}
	return out
}

// decode decodes one object strictly (a field the API does not know
// fails) into its Go type; a kind not expected here fails too.
func (out *rendered) decode(t *testing.T, source string, b []byte) {
	t.Helper()
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string
		Metadata   struct{ Name string }
	}
	if err := yaml.Unmarshal(b, &head); err != nil {
		t.Fatalf("%s: %v", source, err)
	}
	var dest any
	switch kind := head.APIVersion + " " + head.Kind; kind {
	case "apps/v1 Deployment":
		dest = grow(&out.deployments)
	case "v1 Service":
		dest = grow(&out.services)
	case "v1 ConfigMap":
		dest = grow(&out.configMaps)
	case "v1 Pod":
		dest = grow(&out.pods)
	case "policy/v1 PodDisruptionBudget":
		dest = grow(&out.pdbs)
	case "autoscaling/v2 HorizontalPodAutoscaler":
		dest = grow(&out.hpas)
	case "batch/v1 Job":
		dest = grow(&out.jobs)
	default:
		t.Errorf("%s renders %s %s, not a kind this test knows", source, kind, head.Metadata.Name)
		return
	}
	if err := yaml.UnmarshalStrict(b, dest); err != nil {
		t.Errorf("%s: %s %s does not decode strictly: %v", source, head.Kind, head.Metadata.Name, err)
	}
}

// grow appends a zero T to list and returns a pointer to it.
func grow[T any](list *[]T) *T {
	*list = append(*list, *new(T))
	return &(*list)[len(*list)-1]
}

// pods are the pod templates of the Deployments and Jobs, by their
// owner's kind and name.
func (r rendered) templates() map[string]corev1.PodTemplateSpec {
	out := map[string]corev1.PodTemplateSpec{}
	for _, d := range r.deployments {
		out["Deployment "+d.Name] = d.Spec.Template
	}
	for _, j := range r.jobs {
		out["Job "+j.Name] = j.Spec.Template
	}
	return out
}

// The base and the production overlay render, and every object is one the
// Kubernetes API takes as written.
func TestManifestsDecodeStrictly(t *testing.T) {
	for _, dir := range []string{"duban", "kubernetes"} {
		r := render(t, dir)
		if len(r.deployments) != 2 || len(r.services) != 1 || len(r.pdbs) != 2 || len(r.hpas) != 1 || len(r.jobs) != 1 || len(r.configMaps) != 2 {
			t.Errorf("%s renders %d Deployments, %d Services, %d PodDisruptionBudgets, %d HorizontalPodAutoscalers, %d Jobs, %d ConfigMaps; want 2, 1, 2, 1, 1, 2",
				dir, len(r.deployments), len(r.services), len(r.pdbs), len(r.hpas), len(r.jobs), len(r.configMaps))
		}
	}
}

// What the production overlay deploys holds together: images pinned,
// probes and resources on every long-running container, everything it
// names exists (but the Secret a city creates), and each selector finds
// its pods.
func TestProductionHoldsTogether(t *testing.T) {
	r := render(t, "kubernetes")
	configMaps := map[string]corev1.ConfigMap{}
	for _, c := range r.configMaps {
		configMaps[c.Name] = c
		// README applies them with the migration Job, by this label.
		if c.Labels["app.kubernetes.io/component"] != "config" {
			t.Errorf("ConfigMap %s is labelled %v: want app.kubernetes.io/component=config", c.Name, c.Labels)
		}
	}
	for owner, pod := range r.templates() {
		if pod.Spec.SecurityContext == nil || pod.Spec.SecurityContext.RunAsNonRoot == nil || !*pod.Spec.SecurityContext.RunAsNonRoot {
			t.Errorf("%s may run as root", owner)
		}
		for _, c := range pod.Spec.Containers {
			name, tag, ok := strings.Cut(c.Image, ":")
			if !ok || tag == "" || tag == "latest" || !strings.Contains(name, "/") {
				t.Errorf("%s runs image %q: want a registry's image pinned to a release tag", owner, c.Image)
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("%s: container %s lacks CPU and memory requests or a memory limit", owner, c.Name)
			}
			if strings.HasPrefix(owner, "Deployment") && c.LivenessProbe == nil {
				t.Errorf("%s: container %s has no liveness probe", owner, c.Name)
			}
			// Every $(NAME) in the arguments is set from duban-config.
			for _, arg := range c.Args {
				for _, ref := range strings.Split(arg, "$(")[1:] {
					name, _, _ := strings.Cut(ref, ")")
					if _, ok := configMaps[configMapName(t, c.EnvFrom, configMaps)].Data[name]; !ok {
						t.Errorf("%s: argument %q names $(%s), which duban-config does not set", owner, arg, name)
					}
				}
			}
			for _, from := range c.EnvFrom {
				if from.SecretRef != nil && from.SecretRef.Name != "duban-secrets" {
					t.Errorf("%s: environment from Secret %s: the README names duban-secrets only", owner, from.SecretRef.Name)
				}
			}
		}
		for _, v := range pod.Spec.Volumes {
			if v.ConfigMap != nil {
				cm, ok := configMaps[v.ConfigMap.Name]
				if !ok || cm.Data["policy.yaml"] == "" {
					t.Errorf("%s mounts ConfigMap %s, which is not rendered or holds no policy.yaml", owner, v.ConfigMap.Name)
				}
			}
		}
	}
	api := deployment(t, r, "duban-api")
	if c := api.Spec.Template.Spec.Containers[0]; c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("the API's readiness probe is %+v, want GET /readyz", c.ReadinessProbe)
	}
	podsOf := func(what string, sel map[string]string) []string {
		var found []string
		for owner, pod := range r.templates() {
			if len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(pod.Labels)) {
				found = append(found, owner)
			}
		}
		slices.Sort(found)
		if len(found) != 1 || !strings.HasPrefix(found[0], "Deployment") {
			t.Errorf("%s selects %v, want one Deployment's pods", what, found)
		}
		return found
	}
	for _, s := range r.services {
		podsOf("Service "+s.Name, s.Spec.Selector)
	}
	for _, p := range r.pdbs {
		podsOf("PodDisruptionBudget "+p.Name, p.Spec.Selector.MatchLabels)
	}
	for _, h := range r.hpas {
		deployment(t, r, h.Spec.ScaleTargetRef.Name)
		if *h.Spec.MinReplicas < 2 {
			t.Errorf("HorizontalPodAutoscaler %s lets the API down to %d replica", h.Name, *h.Spec.MinReplicas)
		}
	}
	for _, d := range r.deployments {
		if d.Namespace != "duban" {
			t.Errorf("Deployment %s is in namespace %q, want the overlay's duban", d.Name, d.Namespace)
		}
	}
}

func deployment(t *testing.T, r rendered, name string) appsv1.Deployment {
	t.Helper()
	for _, d := range r.deployments {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no Deployment %s", name)
	return appsv1.Deployment{}
}

// configMapName is the rendered name (with kustomize's hash) of the
// duban-config ConfigMap a container takes its environment from.
func configMapName(t *testing.T, from []corev1.EnvFromSource, rendered map[string]corev1.ConfigMap) string {
	for _, f := range from {
		if f.ConfigMapRef != nil {
			if _, ok := rendered[f.ConfigMapRef.Name]; !ok {
				t.Errorf("environment from ConfigMap %s, which is not rendered (have %v)", f.ConfigMapRef.Name, slices.Sorted(maps.Keys(rendered)))
			}
			return f.ConfigMapRef.Name
		}
	}
	t.Error(fmt.Sprintf("no environment from a ConfigMap among %+v", from))
	return ""
}

// What Temporal's Helm chart renders with deploy/temporal/helm-values.yaml
// decodes strictly too. The chart is not reachable from CI: render it where
// it is and point the test at the output (deploy/temporal/README.md):
//
//	helm template temporal temporal/temporal --version 1.6.0 -f deploy/temporal/helm-values.yaml > /tmp/temporal.yaml
//	TEMPORAL_RENDERED=/tmp/temporal.yaml go test ./deploy -run TestTemporalChartRendered
func TestTemporalChartRendered(t *testing.T) {
	file := os.Getenv("TEMPORAL_RENDERED")
	if file == "" {
		t.Skip("TEMPORAL_RENDERED is not set: the chart is rendered by hand")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var r rendered
	for _, doc := range strings.Split(string(b), "\n---") {
		if strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(doc), "---")) == "" {
			continue
		}
		r.decode(t, file, []byte(doc))
	}
	if len(r.deployments) == 0 {
		t.Fatalf("%s holds no Deployment", file)
	}
	for owner, pod := range r.templates() {
		for _, c := range pod.Spec.Containers {
			if _, tag, ok := strings.Cut(c.Image, ":"); !ok || tag == "" || tag == "latest" {
				t.Errorf("%s runs image %q: not pinned", owner, c.Image)
			}
		}
	}
	t.Logf("%s: %d Deployments, %d Services, %d PodDisruptionBudgets, %d Jobs, %d ConfigMaps, %d Pods, all strict",
		file, len(r.deployments), len(r.services), len(r.pdbs), len(r.jobs), len(r.configMaps), len(r.pods))
}
