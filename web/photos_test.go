package web_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/duban/duban/internal/testimage"
)

// postPhoto sends form, with photo as its file "photo" (none when nil),
// as multipart/form-data to action.
func (b *browser) postPhoto(action string, form url.Values, photo []byte) page {
	b.t.Helper()
	body, contentType := multipartForm(form, photo)
	return b.send("POST", action, body, contentType)
}

// multipartForm is form, with photo as its file "photo" (none when nil), as
// multipart/form-data.
func multipartForm(form url.Values, photo []byte) (io.Reader, string) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, vs := range form {
		for _, v := range vs {
			_ = w.WriteField(k, v)
		}
	}
	if photo != nil {
		f, _ := w.CreateFormFile("photo", "IMG_0001.jpg")
		_, _ = f.Write(photo)
	}
	_ = w.Close()
	return &body, w.FormDataContentType()
}

var thumbnails = regexp.MustCompile(`<img src="/v1/attachments/(sha256:[0-9a-f]{64})/thumbnail"`)

// photosShown are the photos a page shows, each once, in the order first
// shown.
func photosShown(p page) []string {
	var out []string
	for _, m := range thumbnails.FindAllStringSubmatch(p.body, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// Photos through the pages: the inspector reports with one (a refused form
// keeps it), the unit resolves with one, and the inspector sees both side
// by side, with when and where each was taken.
func TestPhotosSideBySide(t *testing.T) {
	s := newSite(t)
	inspector := s.signedIn("inspector-1", "dev-inspector")
	before := testimage.JPEG(testimage.Picture(800, 600), testimage.EXIF{Taken: "2026:11:30 09:15:02", GPS: true, Lat: 39.8603, Lon: 111.2}.Bytes())
	form := url.Values{"key": {"with-photo"}, "category": {"littering"}, "severity": {"normal"}, "description": {""},
		"address": {"人民路 1 号"}, "location.lat": {"39.86"}, "location.lon": {"111.2"}}
	// Refused (no description): the page keeps the photo, not sent again.
	p := inspector.postPhoto("/cases/new", form, before)
	expect(t, p, http.StatusBadRequest, "已附上一张照片", `name="attachment" value="sha256:`)
	kept := regexp.MustCompile(`name="attachment" value="(sha256:[0-9a-f]{64})"`).FindStringSubmatch(p.body)[1]
	form.Set("description", "路边堆放垃圾袋")
	form.Set("attachment", kept)
	p = inspector.postPhoto("/cases/new", form, nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("open with the kept photo: %d %s", p.status, p.body)
	}
	id := openedID(t, p)
	expect(t, inspector.get("/cases/"+id), http.StatusOK, "上报时", "拍摄于 2026-11-30 09:15", "距案件位置 33 米", `/v1/attachments/`+kept+`/thumbnail`)

	unit := s.signedIn("sanitation-1", "dev-sanitation")
	version := func(b *browser) string {
		return regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(b.get("/cases/" + id).body)[1]
	}
	expect(t, unit.post("/cases/"+id+"/acknowledge", url.Values{"version": {version(unit)}, "key": {"ack"}, "cmd": {"acknowledge"}}), http.StatusSeeOther)
	after := testimage.JPEG(testimage.Picture(600, 800), testimage.EXIF{Taken: "2026:11:30 15:40:00"}.Bytes())
	expect(t, unit.postPhoto("/cases/"+id+"/resolve", url.Values{"version": {version(unit)}, "key": {"fix"}, "cmd": {"resolve"},
		"note": {"已清理"}}, after), http.StatusSeeOther)

	p = inspector.get("/cases/" + id)
	expect(t, p, http.StatusOK, "上报时", "处置后", "拍摄于 2026-11-30 15:40 · 未记录拍摄位置")
	shown := photosShown(p)
	if len(shown) != 2 || shown[0] != kept {
		t.Fatalf("the case page shows %d photos, want the report's and the fix's: %v", len(shown), shown)
	}
	fix := shown[1]
	// A photo opens whole in a viewer that fits the screen, not in the
	// browser's own; another unit sees none of it.
	expect(t, p, http.StatusOK, `href="/photos/`+fix+`?case=`+id+`"`)
	expect(t, inspector.get("/photos/"+fix+"?case="+id), http.StatusOK, `<figure class="viewer">`, `<img src="/v1/attachments/`+fix+`"`, "返回案件", "拍摄于 2026-11-30 15:40")
	expect(t, s.signedIn("traffic-police-1", "dev-traffic-police").get("/photos/"+fix+"?case="+id), http.StatusNotFound)
	if th := inspector.get("/v1/attachments/" + fix + "/thumbnail"); th.status != 200 || th.header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("the fix's thumbnail, signed in: %d", th.status)
	}

	// A rework: the failed verification's photo, a second fix, a passed
	// verification. Every photo stays on the page, the first fix's too.
	still := testimage.JPEG(testimage.Picture(640, 480), testimage.EXIF{Taken: "2026:11:30 16:10:00"}.Bytes())
	expect(t, inspector.postPhoto("/cases/"+id+"/verify", url.Values{"version": {version(inspector)}, "key": {"v1"}, "cmd": {"verify"},
		"passed": {"no"}, "note": {"仍有垃圾"}}, still), http.StatusSeeOther)
	again := testimage.JPEG(testimage.Picture(480, 640), testimage.EXIF{Taken: "2026:11:30 17:00:00"}.Bytes())
	expect(t, unit.postPhoto("/cases/"+id+"/resolve", url.Values{"version": {version(unit)}, "key": {"fix2"}, "cmd": {"resolve"},
		"note": {"已彻底清理"}}, again), http.StatusSeeOther)
	expect(t, inspector.post("/cases/"+id+"/verify", url.Values{"version": {version(inspector)}, "key": {"v2"}, "cmd": {"verify"},
		"passed": {"yes"}}), http.StatusSeeOther)
	p = inspector.get("/cases/" + id)
	expect(t, p, http.StatusOK, "已结案")
	if shown := photosShown(p); len(shown) != 4 || !slices.Contains(shown, fix) || !slices.Contains(shown, kept) {
		t.Fatalf("after a rework the page shows %d photos, want all 4 (the first fix's %s among them): %v", len(shown), fix, shown)
	}
	// The unit's 处置数 is 2, from this one case: its list says so, and
	// shows the case as a list does.
	supervisor := s.signedIn("supervisor-1", "dev-supervisor")
	rp := supervisor.get("/reports")
	link := regexp.MustCompile(`href="(/reports/figure\?unit=sanitation&figure=handled&[^"]*)"`).FindStringSubmatch(rp.body)
	if link == nil || !strings.HasSuffix(link[1], "n=2") {
		t.Fatalf("the reports page's link to the unit's handled cases: %v", link)
	}
	expect(t, supervisor.get(link[1]), http.StatusOK, "共计 2 次，涉及 1 件案件", "/cases/"+id, "路边堆放垃圾袋", "环卫中心")
	// Coordinates left empty are taken from a photo taken with its place;
	// with none, they are asked for, in Chinese.
	placed := testimage.JPEG(testimage.Picture(320, 240), testimage.EXIF{Taken: "2026:11:30 10:00:00", GPS: true, Lat: 39.87, Lon: 111.25}.Bytes())
	p = inspector.postPhoto("/cases/new", url.Values{"key": {"placed"}, "category": {"littering"}, "severity": {"normal"},
		"description": {"只拍了照片"}}, placed)
	if p.status != http.StatusSeeOther {
		t.Fatalf("open with a placed photo and no coordinates: %d %s", p.status, p.body)
	}
	expect(t, inspector.get(p.header.Get("Location")), http.StatusOK, "<dd>39.87, 111.25</dd>")
	expect(t, inspector.post("/cases/new", url.Values{"key": {"nowhere"}, "category": {"littering"}, "severity": {"normal"},
		"description": {"没有位置"}}), http.StatusBadRequest, "为必填项：以度为单位的数字")
	// A photo over 20 MiB is refused as such.
	huge := append(bytes.Clone(after), make([]byte, 21<<20)...)
	expect(t, unit.postPhoto("/cases/"+id+"/comment", url.Values{"text": {"x"}}, huge), http.StatusRequestEntityTooLarge, "20 MiB")
}
