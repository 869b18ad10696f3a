package workflows_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/duban/duban"
	"github.com/duban/duban/activities"
	"github.com/duban/duban/internal/memstore"
	"github.com/duban/duban/workflows"
)

// The bulletin workflow sleeps until each period's end and publishes its
// bulletin a minute after, period after period, with no one looking; after a year
// of them it continues as new, with the next period.
func TestBulletinsArePublishedAtEachPeriodsEnd(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	store := memstore.New()
	policy := duban.DefaultPolicy() // Asia/Shanghai, periods from the 1st
	env.RegisterWorkflow(workflows.BulletinWorkflow)
	env.RegisterActivity(&activities.Bulletins{Policy: policy, Store: store})
	env.SetStartTime(time.Date(2026, 11, 15, 4, 0, 0, 0, time.UTC))
	var publishedAt []time.Time
	env.SetOnActivityCompletedListener(func(info *activity.Info, _ converter.EncodedValue, err error) {
		if info.ActivityType.Name == "PublishBulletin" && err == nil {
			publishedAt = append(publishedAt, env.Now())
		}
	})
	env.ExecuteWorkflow(workflows.BulletinWorkflow, workflows.BulletinInput{})
	if err := env.GetWorkflowError(); !workflow.IsContinueAsNewError(err) {
		t.Fatalf("after a year: %v", err)
	}
	bulletins, _ := store.Bulletins(context.Background())
	if len(bulletins) != 12 || len(publishedAt) != 12 {
		t.Fatalf("%d bulletins, %d publications", len(bulletins), len(publishedAt))
	}
	for i, b := range bulletins {
		want, _ := policy.AssessmentPeriod(time.Date(2027, 10, 1, 0, 0, 0, 0, time.UTC).AddDate(0, -i, 0).Format("2006-01"))
		if b.Period != want || !publishedAt[len(publishedAt)-1-i].Equal(want.To.Add(workflows.DefaultBulletinGrace)) {
			t.Errorf("bulletin %d: %+v published at %s, want %+v a minute after its end", i, b.Period, publishedAt[len(publishedAt)-1-i], want)
		}
	}
}
