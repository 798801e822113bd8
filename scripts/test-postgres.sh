#!/usr/bin/env bash
# The dispatch server's test suite again, on PostgreSQL: one test body, two backends (the `rust`
# stage ran it on SQLite). Each test server gets a fresh schema in the database `doorstep_tests`
# on the PostgreSQL server at DOORSTEP_TEST_POSTGRES_URL (default
# postgres://root@127.0.0.1:5432/postgres); without a reachable server every test fails, saying
# so. The two-node and migration tests always use PostgreSQL, so the `rust` stage ran them
# already; they are left out here by name. Then: the PostgreSQL migrations still give the
# SQLite schema (scripts/check-pg-schema.py).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
DOORSTEP_TEST_DATABASE=postgres cargo test -p doorstep-server --locked --test server -- \
  --skip cluster:: --skip migrate::
python3 scripts/check-pg-schema.py
