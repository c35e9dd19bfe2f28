# Shared set-up steps for scripts/serve.sh and scripts/test.sh (sourced, not run).
# Idempotent: a second run installs nothing and takes a second or two.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi

say() { printf '==> %s\n' "$*" >&2; }

# apt_install PKG...: installs the Debian packages that are missing, nothing else.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  # Another apt (a colleague's, unattended-upgrades) may hold the lock: wait for it.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_uv: the installer we use for Python packages (from PyPI).
ensure_uv() {
  if command -v uv >/dev/null 2>&1; then return 0; fi
  say "installing uv from PyPI"
  python3 -m pip install --quiet --user uv 2>/dev/null \
    || python3 -m pip install --quiet --user --break-system-packages uv
  export PATH="$HOME/.local/bin:$PATH"
  command -v uv >/dev/null 2>&1 || { echo "uv could not be installed: install it with 'python3 -m pip install uv'" >&2; exit 1; }
}

# sync_python [--dev]: the project's locked environment in .venv.
sync_python() {
  ensure_uv
  say "installing Python packages (uv.lock) into .venv"
  if [ "${1:-}" = "--dev" ]; then uv sync --locked --quiet; else uv sync --locked --no-dev --quiet; fi
}

# ensure_pjsua2: the engine's own pjsua2 build (raised call limits), cached outside the repo.
# The first build takes about 4 minutes on 2 cores; later runs reuse the cached wheel.
ensure_pjsua2() {
  say "installing pjsua2 (cached build; the first build takes a few minutes)"
  bash "$ROOT/scripts/build-pjsua2.sh" --install "$ROOT/.venv/bin/python" >/dev/null
}
