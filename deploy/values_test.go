package deploy

import (
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The values for Temporal's Helm chart parse, pin every image to a
// release, run two of each service and put both stores on PostgreSQL.
// (The chart itself is not reachable from CI: it was rendered with these
// values by hand, deploy/temporal/README.md.)
func TestTemporalValues(t *testing.T) {
	b, err := os.ReadFile("temporal/helm-values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type image struct{ Repository, Tag string }
	type store struct {
		SQL struct{ PluginName, DatabaseName, ExistingSecret string }
	}
	var v struct {
		Server struct {
			Image        image
			ReplicaCount int `json:"replicaCount"`
			Config       struct {
				Persistence struct {
					NumHistoryShards int `json:"numHistoryShards"`
					Datastores       struct{ Default, Visibility store }
				}
			}
		}
		Admintools, Web struct{ Image image }
	}
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	for what, img := range map[string]image{"server": v.Server.Image, "admintools": v.Admintools.Image, "web": v.Web.Image} {
		if img.Repository == "" || img.Tag == "" || img.Tag == "latest" || strings.Count(img.Tag, ".") < 2 {
			t.Errorf("%s's image %s:%s is not pinned to a release", what, img.Repository, img.Tag)
		}
	}
	if v.Server.Config.Persistence.NumHistoryShards < 4 || v.Server.ReplicaCount < 2 {
		t.Errorf("numHistoryShards %d, replicaCount %d: want a cluster's", v.Server.Config.Persistence.NumHistoryShards, v.Server.ReplicaCount)
	}
	for what, s := range map[string]store{"default": v.Server.Config.Persistence.Datastores.Default, "visibility": v.Server.Config.Persistence.Datastores.Visibility} {
		if !strings.HasPrefix(s.SQL.PluginName, "postgres") || s.SQL.DatabaseName == "" || s.SQL.ExistingSecret == "" {
			t.Errorf("the %s store is %+v: want PostgreSQL, its password from a Secret", what, s)
		}
	}
}
