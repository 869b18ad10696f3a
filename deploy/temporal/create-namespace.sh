#!/bin/sh
# Waits for the Temporal server to answer, then creates duban's namespace if
# it does not exist yet.
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
