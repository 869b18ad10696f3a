package messages_test

import (
	"testing"

	"github.com/duban/duban"
	"github.com/duban/duban/messages"
)

// Every event type has its name in every catalogue: the case page's
// timeline and the chat messages say it.
func TestEveryEventIsNamed(t *testing.T) {
	catalogs, err := messages.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range duban.EventTypes() {
		for lang, c := range catalogs {
			if _, ok := c["event."+string(typ)]; !ok {
				t.Errorf("messages/%s.json has no event.%s", lang, typ)
			}
		}
	}
}
