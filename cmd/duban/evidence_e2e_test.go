package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/duban/duban/internal/apitest"
	"github.com/duban/duban/internal/freeport"
	"github.com/duban/duban/internal/testimage"
)

type wireAttachment struct {
	ID       string `json:"id"`
	TakenAt  string `json:"taken_at"`
	Location *struct{ Lat, Lon float64 }
}

// The closed loop with photos, through the whole stack: the inspector
// reports with a photo, the unit resolves with a photo of the fix, the
// inspector sees both and verifies. The audit then finds a photo removed
// from the store and one changed by hand.
func TestEvidenceFromTheStreet(t *testing.T) {
	s := newStack(t, "")
	s.start("serve")
	upload := func(token, name string, data []byte) wireAttachment {
		var a wireAttachment
		s.call("POST", "/v1/attachments", token, apitest.File{Field: "file", Name: name, Data: data}).Expect(t, http.StatusCreated, &a)
		return a
	}
	before := testimage.JPEG(testimage.Picture(1600, 1200), testimage.EXIF{Taken: "2026:11:30 09:15:02", GPS: true, Lat: 39.865, Lon: 111.238}.Bytes())
	b := upload("dev-inspector", "before.jpg", before)
	if b.TakenAt != "2026-11-30T01:15:02Z" || b.Location == nil {
		t.Fatalf("the report's photo: %+v", b)
	}
	report := map[string]any{"category": "littering", "description": "bags dumped at the bus stop",
		"location": map[string]any{"lat": 39.865, "lon": 111.238}, "evidence": []map[string]string{{"attachment": b.ID, "kind": "photo"}}}
	c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", report), http.StatusCreated)
	p := "/v1/cases/" + c.ID
	s.caseOf(s.call("POST", p+"/acknowledge", "dev-sanitation", nil), http.StatusOK)
	after := testimage.JPEG(testimage.Picture(1200, 1600), testimage.EXIF{Taken: "2026:11:30 15:40:00", GPS: true, Lat: 39.8651, Lon: 111.2381}.Bytes())
	a := upload("dev-sanitation", "after.jpg", after)
	s.caseOf(s.call("POST", p+"/resolve", "dev-sanitation", map[string]any{"note": "swept",
		"evidence": []map[string]string{{"attachment": a.ID, "kind": "photo"}}}), http.StatusOK)
	for id, want := range map[string][]byte{b.ID: before, a.ID: after} {
		if r := s.call("GET", "/v1/attachments/"+id, "dev-inspector", nil); r.Status != 200 || !bytes.Equal(r.Body, want) {
			t.Fatalf("the inspector got %s: %d, %d bytes", id, r.Status, len(r.Body))
		}
	}
	s.caseOf(s.call("POST", p+"/verify", "dev-inspector", map[string]any{"passed": true}), http.StatusOK)

	if out, err := s.runOnce("audit", "verify", "--blob-store", s.blobs); err != nil || !strings.Contains(out, "2 attachments referred to, 2 whole, 0 missing") {
		t.Fatalf("audit of a whole store: %v\n%s", err, out)
	}
	hexOf := func(id string) string { return strings.TrimPrefix(id, "sha256:") }
	if err := os.Remove(filepath.Join(s.blobs, "sha256", hexOf(b.ID))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.blobs, "sha256", hexOf(a.ID)), append(after, 0), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := s.runOnce("audit", "verify", "--blob-store", s.blobs)
	if err == nil || !strings.Contains(out, "attachment "+b.ID+": missing") || !strings.Contains(out, "attachment "+a.ID+": its bytes have changed") {
		t.Fatalf("audit of a store with a photo removed and one changed: %v\n%s", err, out)
	}
}

// The API killed (-9) in the middle of an upload leaves no blob, whole or
// half, and the client's retry, to the API started again, stores the
// photo whole.
func TestUploadSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kills an API process")
	}
	s := newStack(t, "")
	port, err := freeport.Get()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s.base = "http://" + addr
	startAPI := func() *exec.Cmd {
		t.Helper()
		cmd := exec.Command(os.Args[0], "api", "--addr", addr, "--temporal", temporalAddr, "--task-queue", s.queue,
			"--blob-store", s.blobs, "--allow-dev-tokens", "--log-level", "warn", "--log-format", "text")
		cmd.Env = append(os.Environ(), reexecEnv+"=1", "DATABASE_URL="+s.dbURL)
		cmd.Stdout, cmd.Stderr = s.logs, s.logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
		eventually(t, time.Minute, "the API ready", func() bool {
			res, err := http.Get(s.base + "/readyz")
			if err == nil {
				res.Body.Close()
			}
			return err == nil && res.StatusCode == 200
		})
		return cmd
	}
	first := startAPI()
	photo := testimage.JPEG(testimage.Picture(2000, 1500), testimage.EXIF{Taken: "2026:11:30 09:15:02"}.Bytes())
	var body bytes.Buffer
	form := multipart.NewWriter(&body)
	part, _ := form.CreateFormFile("file", "IMG_0001.jpg")
	_, _ = part.Write(photo)
	_ = form.Close()
	// Half the body sent, and the API killed while it waits for the rest.
	pr, pw := io.Pipe()
	sent := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("POST", s.base+"/v1/attachments", pr)
		req.Header.Set("Authorization", "Bearer dev-inspector")
		req.Header.Set("Content-Type", form.FormDataContentType())
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			err = fmt.Errorf("answered %d", res.StatusCode)
		}
		sent <- err
	}()
	if _, err := pw.Write(body.Bytes()[:body.Len()/2]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	pw.CloseWithError(errors.New("the phone lost its network"))
	if err := <-sent; err == nil {
		t.Fatal("the upload cut in half was answered")
	}
	blobsIn := func(dir string) []string {
		var names []string
		_ = filepath.WalkDir(filepath.Join(s.blobs, dir), func(path string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				names = append(names, path)
			}
			return nil
		})
		return names
	}
	if left := blobsIn("sha256"); len(left) > 0 {
		t.Fatalf("a blob after the kill: %v", left)
	}

	startAPI()
	var a wireAttachment
	s.call("POST", "/v1/attachments", "dev-inspector", apitest.File{Field: "file", Name: "IMG_0001.jpg", Data: photo}).Expect(t, http.StatusCreated, &a)
	sum := sha256.Sum256(photo)
	if a.ID != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Fatalf("the retry stored %s", a.ID)
	}
	if got, err := os.ReadFile(filepath.Join(s.blobs, "sha256", hex.EncodeToString(sum[:]))); err != nil || !bytes.Equal(got, photo) {
		t.Fatalf("the stored photo: %d bytes, %v", len(got), err)
	}
	if left := blobsIn(".tmp"); len(left) > 0 {
		t.Fatalf("temporary files after a restart: %v", left)
	}
}
