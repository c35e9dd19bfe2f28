#!/usr/bin/env bash
# Installs what the engine needs and runs it on the embedded defaults:
# SQLite under var/, the in-process event bus, HTTP on 127.0.0.1:8080. Ctrl-C stops it.
# Extra arguments go to `callcenter serve` (e.g. --port 8081).
source "$(dirname "$0")/lib.sh"
apt_install python3 python3-venv ca-certificates espeak-ng
sync_python
ensure_pjsua2
exec .venv/bin/callcenter serve "$@"
