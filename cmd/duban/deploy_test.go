package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Every duban container of the Kubernetes base (deploy/duban) starts with
// arguments duban takes: its flags exist and their values parse, with
// $(NAME) set from the base's duban-config, as the kubelet sets it. (The
// deploy module's test checks the manifests against the Kubernetes API.)
func TestKubernetesArgumentsParse(t *testing.T) {
	dir := filepath.Join("..", "..", "deploy", "duban")
	var kustomization struct {
		ConfigMapGenerator []struct {
			Name     string
			Literals []string
		} `yaml:"configMapGenerator"`
	}
	readYAML(t, filepath.Join(dir, "kustomization.yaml"), &kustomization)
	config := map[string]string{}
	for _, g := range kustomization.ConfigMapGenerator {
		for _, l := range g.Literals {
			k, v, _ := strings.Cut(l, "=")
			config[k] = v
		}
	}
	ref := regexp.MustCompile(`\$\(([A-Z_]+)\)`)
	seen := 0
	for _, file := range []string{"api.yaml", "worker.yaml", "migrate.yaml"} {
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(f)
		for {
			var obj struct {
				Kind string
				Spec struct {
					Template struct {
						Spec struct {
							Containers []struct {
								Name string
								Args []string
							}
						}
					}
				}
			}
			if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			for _, c := range obj.Spec.Template.Spec.Containers {
				args := make([]string, len(c.Args))
				for i, a := range c.Args {
					args[i] = ref.ReplaceAllStringFunc(a, func(m string) string { return config[m[2:len(m)-1]] })
				}
				var stderr bytes.Buffer
				m := NewMain()
				m.Config.Stderr = &stderr
				err := m.ParseArgs(args, func(k string) string {
					if k == "DATABASE_URL" {
						return "postgres://duban@db.example:5432/duban"
					}
					return ""
				})
				if err != nil {
					t.Errorf("%s: %s %s: duban refuses its arguments %q: %v\n%s", file, obj.Kind, c.Name, args, err, stderr.String())
				}
				seen++
			}
		}
		f.Close()
	}
	if seen != 3 {
		t.Errorf("checked %d containers, want the API's, the worker's and the migration's", seen)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
