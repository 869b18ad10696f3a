package duban_test

import (
	"testing"

	"github.com/duban/duban"
)

// Comments, urges and duban's own steps change nothing a person decides a
// command on; anything else a person does does.
func TestIncidentalEvents(t *testing.T) {
	for _, tt := range []struct {
		e    duban.Event
		want bool
	}{
		{duban.Event{Actor: supervisor, Data: duban.CommentAdded{Text: "今天处理"}}, true},
		{duban.Event{Actor: supervisor, Data: duban.CaseUrged{Note: "快"}}, true},
		{duban.Event{Actor: duban.System, Data: duban.DeadlineWarned{}}, true},
		{duban.Event{Actor: duban.System, Data: duban.CaseEscalated{Level: 1}}, true},
		{duban.Event{Actor: supervisor, Data: duban.CaseSuspended{Reason: "施工"}}, false},
		{duban.Event{Actor: sanitation, Data: duban.CaseAcknowledged{}}, false},
		{duban.Event{Actor: supervisor, Data: duban.CaseAssigned{Unit: "sanitation"}}, false},
	} {
		if got := tt.e.Incidental(); got != tt.want {
			t.Errorf("%T by %s: incidental %v, want %v", tt.e.Data, tt.e.Actor.Role, got, tt.want)
		}
	}
}
