// What a TypeScript client of duban compiles against the types that
// openapi-typescript generates from the served document (openapi.ts,
// beside this file when api/openapi_lint_test.go compiles it): each
// event's data is typed by the event's type.
import type { components } from "./openapi";

type Event = components["schemas"]["Event"];
type Comment = Extract<Event, { type: "CommentAdded" }>;

// A comment event, whole: its data is its text.
const comment: Comment = {
  id: "0191d6a0-7c3e-5a1b-9f00-2c4d5e6f7a8b",
  case_id: "0191d6a0-7c3e-7a1b-9f00-2c4d5e6f7a8b",
  version: 4,
  position: 17,
  type: "CommentAdded",
  occurred_at: "2026-12-01T09:30:00Z",
  actor: { id: "inspector-1", role: "inspector" },
  data: { text: "the bags are still there" },
};

// @ts-expect-error: a comment's text is a string
const notText: Comment["data"] = { text: 1 };

// Narrowing on type gives each event its own data.
export function describe(e: Event): string {
  switch (e.type) {
    case "CommentAdded":
      return e.data.text;
    case "CaseEscalated":
      return `${e.data.stage} overdue since ${e.data.deadline}: level ${e.data.level}`;
    case "CaseDispatched":
      return `to ${e.data.unit}, to resolve by ${e.data.deadlines.resolve_by ?? "no deadline yet"}`;
    case "CaseCancelled":
      return `${e.data.outcome ?? "cancelled"}: ${e.data.reason}, ${e.data.late_seconds} s late`;
  }
  return e.type;
}

// What a webhook receives: the event as data.
const message: components["schemas"]["WebhookMessage"] = {
  type: comment.type,
  timestamp: comment.occurred_at,
  data: comment,
};

export const text: string = describe(message.data);
export const unused = notText;
