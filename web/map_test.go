package web

import (
	"strings"
	"testing"
)

// A marker's values are escaped for where they go: the case's id in a path
// and in an attribute, its label in an attribute and as text, whatever
// they hold.
func TestMapMarkerEscapes(t *testing.T) {
	for _, tc := range []struct {
		c    mapCase
		want string
	}{
		{mapCase{mapPoint: mapPoint{ID: "0194f2a0-0000-7000-8000-000000000001", Label: "2026-000123 乱扔垃圾 · 处置中", X: 12.5, Y: 3}},
			`<a href="/cases/0194f2a0-0000-7000-8000-000000000001" data-case="0194f2a0-0000-7000-8000-000000000001" aria-label="2026-000123 乱扔垃圾 · 处置中">` +
				`<circle class="case on-time" cx="12.5" cy="3" r="6"><title>2026-000123 乱扔垃圾 · 处置中</title></circle></a>`},
		{mapCase{mapPoint: mapPoint{ID: `x"/../<b> &y`, Label: `"><script>alert('x')</script>&`, X: 0.1, Y: 999.9}, Level: 2, Overdue: true, Listed: true},
			`<a href="/cases/x%22%2F..%2F%3Cb%3E%20&amp;y" data-case="x&#34;/../&lt;b&gt; &amp;y" aria-label="&#34;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;">` +
				`<circle class="plate-ring" cx="0.1" cy="999.9" r="10"></circle>` +
				`<circle class="case level-2" cx="0.1" cy="999.9" r="6"><title>&#34;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;</title></circle></a>`},
	} {
		var b strings.Builder
		tc.c.draw(&b)
		if b.String() != tc.want {
			t.Errorf("marker of %+v:\n got %s\nwant %s", tc.c, b.String(), tc.want)
		}
	}
}
