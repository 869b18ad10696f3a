package api

import (
	"testing"

	"github.com/duban/duban"
)

// Each name reads the command of that name, at every door that reads
// case commands by name (the routes, the case pages' forms).
func TestCaseCommandsByName(t *testing.T) {
	by := duban.CommandMeta{By: duban.Principal{ID: "supervisor-1", Role: duban.RoleSupervisor}}
	bodies := map[string]string{"verify": `{"passed":true}`, "decide_extension": `{"approved":false}`}
	for name := range caseCommands {
		body := bodies[name]
		if body == "" {
			body = `{}`
		}
		cmd, err := BuildCommand(name, []byte(body), by, 1)
		if err != nil || cmd.Name() != name {
			t.Errorf("%s: built %v, %v", name, cmd, err)
		}
	}
	if _, err := BuildCommand("rate", []byte(`{}`), by, 0); duban.ErrorCode(err) != duban.ENOTFOUND {
		t.Errorf("a resident's rating is no command of the office's doors: %v", err)
	}
}
