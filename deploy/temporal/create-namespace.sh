#!/bin/sh
# Waits for the Temporal server to answer, then creates duban's namespace and
# the case workflows' search attributes if they do not exist yet.
set -eu
ns=${NAMESPACE:-default}
addr=${TEMPORAL_ADDRESS:-temporal:7233}
tries=0
until temporal operator cluster health --address "$addr" >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "Temporal at $addr is not healthy"; exit 1; }
  sleep 2
done
if temporal operator namespace describe -n "$ns" --address "$addr" >/dev/null 2>&1; then
  echo "namespace $ns exists"
else
  temporal operator namespace create -n "$ns" --retention 720h --address "$addr"
  echo "namespace $ns created"
fi
# The search attributes case workflows keep (duban's worker adds them too
# when they are missing; here they exist before any worker starts).
for attr in CaseStatus:Keyword CaseUnit:Keyword CaseCategory:Keyword CaseOverdue:Bool; do
  name=${attr%%:*}
  if temporal operator search-attribute list -n "$ns" --address "$addr" | grep -qw "$name"; then
    echo "search attribute $name exists"
  else
    temporal operator search-attribute create -n "$ns" --name "$name" --type "${attr#*:}" --address "$addr"
  fi
done
