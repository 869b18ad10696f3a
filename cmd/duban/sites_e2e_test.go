package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duban/duban/internal/pgtest"
)

// An office's spreadsheet of 1,200 sites with three bad rows: the dry run
// names them by line and writes nothing; the import registers the rest
// and fails for the three; a second import changes nothing; a GBK file is
// refused, saying what to do.
func TestSitesImport(t *testing.T) {
	db := pgtest.NewDatabase(t)
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("\uFEFF编号,名称,类型,片区,纬度,经度,包保单位,点位长,电话\n")
	types := []string{"农贸市场", "背街小巷", "居民小区", "学校周边", "公共广场", "交通路口", "公交站点", "公厕"}
	for i := 1; i <= 1200; i++ {
		typ, lat := types[i%len(types)], fmt.Sprintf("%.5f", 39.8+float64(i)/100000)
		switch i {
		case 17:
			typ = "商场" // no such site type
		case 600:
			lat = "北纬39度"
		}
		fmt.Fprintf(&b, "s-%04d,点位 %d,%s,老城区,%s,111.2,环卫中心,王芳,13800000000\n", i, i, typ, lat)
	}
	b.WriteString("s-0001,重复的点位,公厕,老城区,39.8,111.2,,,\n") // line 1202
	file := filepath.Join(dir, "sites.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	duban := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		m := NewMain()
		m.Config.Stdout, m.Config.Stderr = &out, &errOut
		if err := m.ParseArgs(args, func(k string) string {
			if k == "DATABASE_URL" {
				return db
			}
			return ""
		}); err != nil {
			return "", "", err
		}
		err := m.Run(context.Background())
		m.Close()
		return out.String(), errOut.String(), err
	}
	sites := func(args ...string) (string, string, error) {
		return duban(append([]string{"sites", "import", "--log-level", "error"}, args...)...)
	}
	// A dry run only reads: it needs a database migrated already.
	if _, _, err := duban("migrate", "--log-level", "error"); err != nil {
		t.Fatal(err)
	}
	out, _, err := sites("--dry-run", file)
	for _, want := range []string{
		"sites.csv: line 18: type: is not a site type of the policy",
		`sites.csv: line 601: lat: must be a number, in degrees, not "北纬39度"`,
		"sites.csv: line 1202: id: site s-0001 is on line 2 already",
		"checked (dry run: nothing written) 1201 rows: 1198 new, 0 changed, 0 as they were; 3 bad",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the dry run lacks %q:\n%s", want, out)
		}
	}
	if err == nil {
		t.Error("a dry run with bad rows succeeded")
	}
	out, progress, err := sites(file)
	if err == nil || !strings.Contains(out, "imported 1201 rows: 1198 new, 0 changed, 0 as they were; 3 bad") || !strings.Contains(progress, "1000 of 1198 rows") {
		t.Fatalf("the import: %v\n%s\n%s", err, out, progress)
	}
	out, _, _ = sites(file)
	if !strings.Contains(out, "imported 1201 rows: 0 new, 0 changed, 1198 as they were; 3 bad") {
		t.Fatalf("the second import:\n%s", out)
	}
	gbk := filepath.Join(dir, "gbk.csv")
	if err := os.WriteFile(gbk, []byte("id,name,type,lat,lon\nm-1,\xc5\xa9\xc3\xb3\xca\xd0\xb3\xa1,market,39.8,111.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sites(gbk); err == nil || !strings.Contains(err.Error(), "GBK") {
		t.Fatalf("a GBK file: %v", err)
	}
	if _, _, err := sites(); err == nil || !strings.Contains(err.Error(), "usage: duban sites import") {
		t.Fatalf("no file: %v", err)
	}
}
