package workflows

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The search attributes a case workflow keeps current (from revision
// searchAttributes on), so that the Temporal Web UI and `temporal workflow
// list --query` can find cases: 'CaseUnit="sanitation" AND CaseOverdue=true'.
// They hold codes and a flag, never what people wrote or who they are.
var (
	attrStatus   = temporal.NewSearchAttributeKeyKeyword("CaseStatus")
	attrUnit     = temporal.NewSearchAttributeKeyKeyword("CaseUnit")
	attrCategory = temporal.NewSearchAttributeKeyKeyword("CaseCategory")
	attrOverdue  = temporal.NewSearchAttributeKeyBool("CaseOverdue")
)

// SearchAttributes are the custom search attributes case workflows need on
// their namespace, by name, with their types.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	attrStatus.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	attrUnit.GetName():     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	attrCategory.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	attrOverdue.GetName():  enumspb.INDEXED_VALUE_TYPE_BOOL,
}

// searchAttrs is what a run has last written of its search attributes.
type searchAttrs struct {
	written                bool
	status, unit, category string
	overdue                bool
}

// publish writes the case's search attributes where they differ from what
// the run last wrote (all of them the first time in a run). A run of an
// older revision writes none: its history has no such commands.
func (r *run) publish(ctx workflow.Context) {
	if r.in.Revision < searchAttributes {
		return
	}
	now := searchAttrs{written: true, status: string(r.state.Status), unit: r.state.Unit,
		category: r.state.Category, overdue: r.state.OverdueAt(workflow.Now(ctx))}
	was := r.published
	if now == was {
		return
	}
	var updates []temporal.SearchAttributeUpdate
	if !was.written || now.status != was.status {
		updates = append(updates, attrStatus.ValueSet(now.status))
	}
	if !was.written || now.unit != was.unit {
		if now.unit == "" {
			updates = append(updates, attrUnit.ValueUnset())
		} else {
			updates = append(updates, attrUnit.ValueSet(now.unit))
		}
	}
	if !was.written || now.category != was.category {
		updates = append(updates, attrCategory.ValueSet(now.category))
	}
	if !was.written || now.overdue != was.overdue {
		updates = append(updates, attrOverdue.ValueSet(now.overdue))
	}
	// It fails only for updates of no or unknown types, which these are not.
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		workflow.GetLogger(ctx).Error("search attributes not written", "error", err)
		return
	}
	r.published = now
}

// RegisterSearchAttributes adds to the namespace those of SearchAttributes
// it lacks, and returns once the server lists them all. (The server's
// services may take a few more seconds to see them: AwaitFirstTask waits
// for that.) A worker calls it before it starts. Where duban may not change
// the namespace, the error names the attributes missing and the commands
// with which an operator adds them. An empty namespace is the client's
// default.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	namespace = cmp.Or(namespace, client.DefaultNamespace) // as the client takes it
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	missing, err := missingSearchAttributes(ctx, c, namespace)
	if err == nil && len(missing) > 0 {
		_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: namespace, SearchAttributes: missing,
		})
		var exists *serviceerror.AlreadyExists
		if errors.As(err, &exists) {
			err = nil // another worker added them first
		}
	}
	for err == nil && len(missing) > 0 {
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(200 * time.Millisecond):
			missing, err = missingSearchAttributes(ctx, c, namespace)
		}
	}
	if errors.Is(err, errWrongType) {
		return fmt.Errorf("namespace %s: %w", namespace, err)
	}
	if err != nil {
		return lacking(namespace, missing, fmt.Sprintf("duban could not add them (%v)", err))
	}
	return nil
}

// SearchAttributesListed checks that the namespace lists every case search
// attribute, as an API process does before it calls itself ready: it runs
// no worker to add them, and a case opened without them could not run.
func SearchAttributesListed(ctx context.Context, c client.Client, namespace string) error {
	namespace = cmp.Or(namespace, client.DefaultNamespace)
	missing, err := missingSearchAttributes(ctx, c, namespace)
	if err != nil {
		return fmt.Errorf("list the search attributes of namespace %s: %w", namespace, err)
	}
	if len(missing) > 0 {
		return lacking(namespace, missing, "a worker adds them as it starts")
	}
	return nil
}

// lacking says which search attributes the namespace lacks (all of them
// when missing is empty: not known), why, and how an operator adds them.
func lacking(namespace string, missing map[string]enumspb.IndexedValueType, why string) error {
	if len(missing) == 0 {
		missing = SearchAttributes
	}
	var names, commands []string
	for _, name := range slices.Sorted(maps.Keys(missing)) {
		kind := strings.TrimPrefix(missing[name].String(), "INDEXED_VALUE_TYPE_")
		names = append(names, name)
		commands = append(commands, fmt.Sprintf("temporal operator search-attribute create --namespace %s --name %s --type %s",
			namespace, name, strings.ToUpper(kind[:1])+strings.ToLower(kind[1:])))
	}
	return fmt.Errorf("namespace %s lacks the case search attributes %s: %s; an operator adds them with:\n  %s",
		namespace, strings.Join(names, ", "), why, strings.Join(commands, "\n  "))
}

// errWrongType is a search attribute of the case's name but another type:
// an operator must remove it before duban can add its own.
var errWrongType = errors.New("a case search attribute has another type on the namespace")

// missingSearchAttributes returns those of SearchAttributes the namespace
// does not list.
func missingSearchAttributes(ctx context.Context, c client.Client, namespace string) (map[string]enumspb.IndexedValueType, error) {
	listed, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, err
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, kind := range SearchAttributes {
		if got, ok := listed.GetCustomAttributes()[name]; !ok {
			missing[name] = kind
		} else if got != kind {
			return nil, fmt.Errorf("%w: %s is %s, case workflows need %s", errWrongType, name, got, kind)
		}
	}
	return missing, nil
}
