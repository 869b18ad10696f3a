package deploy

import (
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The values for Temporal's Helm chart parse, pin every image to a
// release, keep the chart's own databases and monitoring off and put the
// store on PostgreSQL. (The chart itself is not reachable from here: its
// `helm lint` is run where it is, README says how.)
func TestTemporalValues(t *testing.T) {
	b, err := os.ReadFile("temporal/helm-values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type image struct{ Repository, Tag string }
	type store struct {
		Driver string
		SQL    struct{ Driver, Database, ExistingSecret string }
	}
	var v struct {
		Server struct {
			Image  image
			Config struct {
				NumHistoryShards int `json:"numHistoryShards"`
				Persistence      struct{ Default, Visibility store }
			}
		}
		Admintools, Web                                      struct{ Image image }
		Cassandra, Mysql, Elasticsearch, Prometheus, Grafana struct{ Enabled bool }
	}
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	for what, img := range map[string]image{"server": v.Server.Image, "admintools": v.Admintools.Image, "web": v.Web.Image} {
		if img.Repository == "" || img.Tag == "" || img.Tag == "latest" || strings.Count(img.Tag, ".") < 2 {
			t.Errorf("%s's image %s:%s is not pinned to a release", what, img.Repository, img.Tag)
		}
	}
	if v.Server.Config.NumHistoryShards < 4 {
		t.Errorf("numHistoryShards %d", v.Server.Config.NumHistoryShards)
	}
	for what, s := range map[string]store{"default": v.Server.Config.Persistence.Default, "visibility": v.Server.Config.Persistence.Visibility} {
		if s.Driver != "sql" || s.SQL.Driver != "postgres12" || s.SQL.ExistingSecret == "" {
			t.Errorf("the %s store is %+v: want PostgreSQL, its password from a Secret", what, s)
		}
	}
	if v.Cassandra.Enabled || v.Mysql.Enabled || v.Elasticsearch.Enabled || v.Prometheus.Enabled || v.Grafana.Enabled {
		t.Errorf("the chart would install its own databases or monitoring: %+v %+v %+v %+v %+v", v.Cassandra, v.Mysql, v.Elasticsearch, v.Prometheus, v.Grafana)
	}
}
