package app

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/duban/duban"
)

// An open's RequestHash is what it was before the application layer took
// it over from the API: a repeated open of a case opened by an older duban
// is recognised, not refused as another request under the same key.
func TestRequestHashKeepsItsShape(t *testing.T) {
	cmd := duban.OpenCase{Category: "littering", Severity: duban.SeverityNormal, Description: "bags dumped at the bus stop",
		Location: duban.Location{Lat: 39.865, Lon: 111.238, Area: "old-town"},
		Evidence: []duban.Evidence{{URL: "https://example.org/p/1.jpg", Kind: "photo"}}}
	const was = `{"category":"littering","severity":"normal","description":"bags dumped at the bus stop",` +
		`"location":{"lat":39.865,"lon":111.238,"address":"","area":"old-town"},` +
		`"evidence":[{"url":"https://example.org/p/1.jpg","kind":"photo"}]}`
	sum := sha256.Sum256([]byte(was))
	if got, want := requestHash(cmd), hex.EncodeToString(sum[:16]); got != want {
		t.Fatalf("hash %s, want %s", got, want)
	}
	cmd.Evidence = nil
	if requestHash(cmd) == hex.EncodeToString(sum[:16]) {
		t.Fatal("the evidence is not in the hash")
	}
}
