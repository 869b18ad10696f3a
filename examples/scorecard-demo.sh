#!/bin/sh
# Plays a month of two units' cases, in four minutes, against duban dev
# started with the short deadlines:
#
#   go run ./cmd/duban dev --policy examples/short-deadlines.yaml
#   sh examples/scorecard-demo.sh
#
# Sanitation closes a case on time and another after rework, leaves one
# past its 3-minute resolve deadline, has one cancelled with no further
# action and one as a duplicate; urban management closes one after an
# approved extension and another on time, and is urged over a third that
# it leaves overdue. Then the script waits until the cases left alone are
# overdue and prints how to read the month's scorecard.
set -eu
API=${API:-http://127.0.0.1:8080}

call() { # METHOD PATH TOKEN [JSON]
	if [ $# -ge 4 ]; then
		curl -sSf -X "$1" "$API$2" -H "Authorization: Bearer $3" -H 'Content-Type: application/json' -d "$4"
	else
		curl -sSf -X "$1" "$API$2" -H "Authorization: Bearer $3"
	fi
}
open_case() { # CATEGORY AREA DESCRIPTION: prints the new case's id
	call POST /v1/cases dev-inspector \
		"{\"category\": \"$1\", \"description\": \"$3\", \"location\": {\"lat\": 39.865, \"lon\": 111.238, \"area\": \"$2\"}}" |
		sed -n 's/^{"id":"\([^"]*\)".*/\1/p'
}
do_() { call POST "/v1/cases/$1/$2" "$3" "${4:-{\}}" >/dev/null; }

echo "sanitation's cases"
a=$(open_case littering old-town "bags dumped at the bus stop")
do_ "$a" acknowledge dev-sanitation
do_ "$a" resolve dev-sanitation '{"note": "bags removed"}'
do_ "$a" verify dev-inspector '{"passed": true}'

b=$(open_case littering riverside "litter along the embankment")
do_ "$b" acknowledge dev-sanitation
do_ "$b" resolve dev-sanitation '{"note": "swept"}'
do_ "$b" verify dev-inspector '{"passed": false, "note": "the steps are still littered"}'
do_ "$b" resolve dev-sanitation '{"note": "steps swept too"}'
do_ "$b" verify dev-inspector '{"passed": true}'

c=$(open_case littering old-town "rubbish behind the market") # left alone
d=$(open_case littering station "litter on private land")
do_ "$d" cancel dev-supervisor '{"reason": "the land is private; the owner was told", "outcome": "no_further_action"}'
e=$(open_case littering old-town "rubbish behind the market, again")
do_ "$e" cancel dev-supervisor "{\"reason\": \"reported twice\", \"duplicate_of\": \"$c\"}"

echo "urban management's cases"
f=$(open_case graffiti old-town "posters on the bridge")
do_ "$f" acknowledge dev-urban-management
until=$(date -u -d '+10 minutes' +%Y-%m-%dT%H:%M:%SZ)
do_ "$f" extensions dev-urban-management "{\"until\": \"$until\", \"reason\": \"the paint must dry\"}"
do_ "$f" extensions/1/decision dev-supervisor '{"approved": true}'
do_ "$f" resolve dev-urban-management '{"note": "painted over"}'
do_ "$f" verify dev-inspector '{"passed": true}'

g=$(open_case graffiti riverside "tags on the underpass")
do_ "$g" acknowledge dev-urban-management
do_ "$g" resolve dev-urban-management '{"note": "cleaned"}'
do_ "$g" verify dev-inspector '{"passed": true}'

h=$(open_case graffiti station "small ads on the lamp posts") # acknowledged, urged, left
do_ "$h" acknowledge dev-urban-management
do_ "$h" urge dev-supervisor '{"note": "the inspection team passes tomorrow"}'

echo "waiting 4 minutes for the cases left alone to pass their deadlines"
sleep 240

month=$(TZ=Asia/Shanghai date +%Y-%m-01)
next=$(TZ=Asia/Shanghai date -d "$month +1 month" +%Y-%m-%d)
cat <<EOF

This month's scorecards, through the API:
  curl -s '$API/v1/reports/units?from=$month&to=$next' -H 'Authorization: Bearer dev-supervisor'
the cases behind sanitation's overdue count:
  curl -s '$API/v1/reports/units/sanitation/cases?from=$month&to=$next&figure=overdue_open' -H 'Authorization: Bearer dev-supervisor'
and in a terminal, with the database URL duban dev printed:
  DATABASE_URL='postgres://...' go run ./cmd/duban report --policy examples/short-deadlines.yaml --from $month --to $next
EOF
