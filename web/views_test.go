package web

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// A list's views are kept by case and version: the same version is not
// decoded again, a new version is.
func TestViewsByVersion(t *testing.T) {
	now := time.Now()
	c := duban.Case{ID: "0194f2a0-0000-7000-8000-000000000001", Status: duban.StatusDispatched, Category: "littering",
		Description: "bags at the bus stop", OpenedAt: now, Version: 3}
	listing := func(c duban.Case) app.Listed {
		v, err := json.Marshal(c.View())
		if err != nil {
			t.Fatal(err)
		}
		return app.Listed{ID: c.ID, Version: c.Version, View: v}
	}
	var s Server
	first, err := s.decodeListed([]app.Listed{listing(c)}, now)
	if err != nil || first[0].Description != "bags at the bus stop" || first[0].Status != duban.StatusDispatched {
		t.Fatalf("decoded %+v, %v", first, err)
	}
	// The same version's view, whatever bytes are sent, is what was kept.
	again := listing(c)
	again.View = []byte(`{"id":"` + c.ID + `","description":"not decoded"}`)
	if got, _ := s.decodeListed([]app.Listed{again}, now); got[0].Description != "bags at the bus stop" {
		t.Fatalf("the same version decoded again: %q", got[0].Description)
	}
	c.Version, c.Status, c.Description = 4, duban.StatusInProgress, "bags gone, a sofa left"
	if got, _ := s.decodeListed([]app.Listed{listing(c)}, now); got[0].Description != "bags gone, a sofa left" || got[0].Status != duban.StatusInProgress {
		t.Fatalf("a new version shows %q, %s", got[0].Description, got[0].Status)
	}
}
