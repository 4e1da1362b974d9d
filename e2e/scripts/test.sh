#!/usr/bin/env bash
# Runs Strata's whole default test suite, installing what it needs first.
# CI runs exactly this (.ci/run). Long soak and chaos runs are behind build
# tags and are not part of it.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash e2e/scripts/install-deps.sh

echo "== go vet"
go vet ./...

echo "== go test"
# -race on the packages with the most concurrency; the rest without, to
# keep the suite well inside CI's time on two cores.
go test -count=1 -race -timeout 15m ./ingest/wal/... ./ingest/partition/... ./ingest/quorum/... ./ingest/group/... ./cache/... ./tiering/
go test -count=1 -timeout 20m ./...
