#!/usr/bin/env bash
# Start the service on its embedded default: SQLite under var/, channels without credentials
# writing to var/outbox/. Extra arguments go to `run.py serve` (e.g. --port 8081).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
# The links in mails (confirm, settings, unsubscribe) are signed with BROADCASTER_SECRET_KEY. When the
# environment has none, this machine gets its own, kept in var/ (never committed) so links survive restarts.
if [ -z "${BROADCASTER_SECRET_KEY:-}" ]; then
  (umask 077 && mkdir -p var)  # the database, keys and outbox live here: owner-only
  if [ ! -s var/secret-key ]; then
    (umask 077 && .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' > var/secret-key)
    echo "made var/secret-key for BROADCASTER_SECRET_KEY (set the variable to use your own)" >&2
  fi
  BROADCASTER_SECRET_KEY="$(cat var/secret-key)"
  export BROADCASTER_SECRET_KEY
fi
# Subscriber contacts are encrypted with BROADCASTER_DATA_KEY; likewise a demo machine gets its own in var/.
if [ -z "${BROADCASTER_DATA_KEY:-}" ]; then
  (umask 077 && mkdir -p var)  # the database, keys and outbox live here: owner-only
  if [ ! -s var/data-key ]; then
    (umask 077 && .venv/bin/python run.py keys new > var/data-key)
    echo "made var/data-key for BROADCASTER_DATA_KEY (set the variable to use your own, kept apart from var/)" >&2
  fi
  BROADCASTER_DATA_KEY="$(cat var/data-key)"
  export BROADCASTER_DATA_KEY
fi
exec .venv/bin/python run.py serve "$@"
