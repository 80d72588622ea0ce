#!/usr/bin/env bash
# Start the service on its embedded default: SQLite under var/, channels without credentials
# writing to var/outbox/. Extra arguments go to `run.py serve` (e.g. --port 8081).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
exec .venv/bin/python run.py serve "$@"
