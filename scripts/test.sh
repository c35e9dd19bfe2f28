#!/usr/bin/env bash
# Installs what the tests need (Debian and Python packages), makes sure PostgreSQL and
# Mosquitto are running (starts them when they are not), and runs the whole test suite.
# Extra arguments go to pytest (e.g. -k mqtt, -x).
source "$(dirname "$0")/lib.sh"

# espeak-ng: IVR prompts; graphviz: flow diagrams; sip-tester (SIPp) and baresip: SIP peers;
# chromium: the agent desktop's browser tests (Playwright drives Debian's Chromium);
# asterisk-core-sounds-en-wav: recorded voices for the AMD tests (tests/support/amd_real_corpus.py);
# openssl: self-signed certificates for the SIP over TLS tests (tests/support/tls.py)
apt_install python3 python3-venv ca-certificates postgresql mosquitto espeak-ng graphviz \
  sip-tester baresip kamailio chromium asterisk-core-sounds-en-wav openssl

sync_python --dev
ensure_pjsua2

export CALLCENTER_TEST_PG_URL="${CALLCENTER_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
export CALLCENTER_TEST_MQTT="${CALLCENTER_TEST_MQTT:-127.0.0.1:1883}"

start_postgresql() {
  if pg_isready -q -h 127.0.0.1 -p 5432; then return 0; fi
  say "starting PostgreSQL"
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL did not start: see /var/log/postgresql" >&2; exit 1; }
  # The tests connect as postgres without a password over TCP from this machine only.
  if ! psql -h 127.0.0.1 -U postgres -d postgres -c 'select 1' >/dev/null 2>&1; then
    say "allowing trust authentication for postgres on 127.0.0.1"
    local hba; hba="$(ls /etc/postgresql/"$version"/main/pg_hba.conf)"
    $SUDO sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  fi
  psql -h 127.0.0.1 -U postgres -d postgres -tc "select 1 from pg_database where datname='test'" \
    | grep -q 1 || psql -h 127.0.0.1 -U postgres -d postgres -c 'create database test' >/dev/null
}

start_mosquitto() {
  if (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then return 0; fi
  say "starting Mosquitto"
  $SUDO mosquitto -d -c /etc/mosquitto/mosquitto.conf
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && return 0; sleep 0.2; done
  echo "Mosquitto did not start on 127.0.0.1:1883: see /var/log/mosquitto" >&2; exit 1
}

start_postgresql
start_mosquitto

say "running the tests"
exec .venv/bin/python -m pytest "$@"
