#!/usr/bin/env bash
# Build the pjsua2 Python bindings with call-center sized limits, as a cached wheel.
#
# pjproject's defaults (and the PyPI `pjsua2-python` wheel built with them) allow 4 calls,
# 254 conference ports and a 64-handle select() ioqueue: useless for a contact center, and the
# clamp is silent. This script builds pjproject from Debian's `asterisk` source package (suite
# sid), which carries the full pjproject tree as a component tarball, with the limits below,
# an epoll ioqueue, Debian's srtp/speex/gsm/libsamplerate and -DNDEBUG, then packages the SWIG
# bindings as a wheel cached outside the repository. See docs/pjsua2-build.md.
#
# Usage:
#   scripts/build-pjsua2.sh [--python PY] [--install PY] [--print-path] [--refresh] [-v]
#
#   (no option)      build the wheel unless it is cached; last stdout line: the wheel's path
#   --install PY     also install the wheel into PY's environment (uv pip, else PY -m pip);
#                    PY is also the interpreter the wheel is built for
#   --python PY      interpreter to build for (default: $PJSUA2_PYTHON, else the repo's
#                    .venv/bin/python, else python3)
#   --print-path     print the cached wheel's path, or exit 1 if it is not built; never builds
#   --refresh        look up Debian's current asterisk source even if a wheel for this
#                    configuration is cached (rebuilds only if the pjproject snapshot changed)
#   -v, --verbose    stream the build output instead of a heartbeat (full log is kept anyway)
#
# Environment:
#   CALLCENTER_PJSUA2_CACHE   cache root (default ~/.cache/callcenter/pjsua2)
#   PJSUA2_ASTERISK_VERSION   pin Debian's asterisk source version (default: sid's current)
#   PJSUA2_JOBS               make -j (default 2)
#   PJSUA2_KEEP_BUILD=1       keep the build tree after a successful build
#   the limits below (PJSUA_MAX_CALLS, ...) can be overridden from the environment; any change
#   gives a new cache key.
set -euo pipefail

# --- Limits written to pjlib/include/pj/config_site.h --------------------------------------
# Measured here (docs/pjsua2-build.md, shared notes): with these sizes an auto-answering
# pjsua2 held 6,000 concurrent calls at 200 calls/s on 2 cores. Each call holds two RTP
# sockets (mind `ulimit -n`), one conference port, and a dialog + transactions.
PJSUA_MAX_CALLS="${PJSUA_MAX_CALLS:-8192}"
PJ_IOQUEUE_MAX_HANDLES="${PJ_IOQUEUE_MAX_HANDLES:-32768}"
PJSUA_MAX_CONF_PORTS="${PJSUA_MAX_CONF_PORTS:-16384}"
PJSUA_MAX_PLAYERS="${PJSUA_MAX_PLAYERS:-8192}"
PJSUA_MAX_RECORDERS="${PJSUA_MAX_RECORDERS:-8192}"
PJSIP_MAX_TSX_COUNT="${PJSIP_MAX_TSX_COUNT:-65535}"
PJSIP_MAX_DIALOG_COUNT="${PJSIP_MAX_DIALOG_COUNT:-65535}"

# --- Build configuration (part of the cache key) ---------------------------------------------
BUILD_CFLAGS="-O2 -fPIC -DNDEBUG"   # NDEBUG: a pjlib assert must not abort every call
CONFIGURE_FLAGS=(
    --enable-epoll                  # select() ioqueue aborts at ~100 calls/s
    --with-external-srtp --with-external-speex --with-external-gsm   # Debian strips third_party
    --enable-libsamplerate          # no resampler => every 8 kHz call gets 488
    --disable-ilbc-codec --disable-g7221-codec --disable-libwebrtc --disable-libyuv
    --disable-opencore-amr --disable-silk --disable-bcg729
    --disable-video --disable-sdl --disable-ffmpeg --disable-v4l2 --disable-openh264
    # Pinned off so that what else happens to be installed cannot change the build silently:
    --disable-vpx --disable-opus --disable-lyra --disable-upnp --disable-android-mediacodec
    --disable-sound                 # server: null audio device only (no ALSA)
)
# Python callbacks (SWIG directors) the wheel keeps. Every other virtual `on*` callback of
# pj::Call and pj::Account is built without a director: pjsua2 runs the C++ default without
# taking the GIL. With directors, each callback (onStreamCreated, onCallTsxState, ...) takes the
# GIL on the pj thread and calls Python even when Python does not override it: about ten GIL
# hand-offs per call, each up to a switch interval long while the event loop runs (measured:
# the pj thread waited for the GIL most of its time at 450 calls/s). A subclass that overrides
# a callback missing here is never called: add it here (tests/unit/sip/test_pjsua2_build.py
# checks the callcenter's subclasses against these lists).
DIRECTOR_CALLBACKS_CALL="onCallState onCallMediaState onDtmfDigit onDtmfEvent onCallTransferRequest onCallTransferStatus onCallReplaced onCallReplaceRequest onCallRxReinvite onInstantMessage"
DIRECTOR_CALLBACKS_ACCOUNT="onIncomingCall onRegState onRegStarted onIncomingSubscribe onInstantMessage onMwiInfo"
# Bump when the recipe below changes in a way that changes the wheel.
RECIPE_REVISION=4
DEBIAN_SOURCE_PACKAGE=asterisk
DEBIAN_SOURCE_SUITE=sid
BUILD_DEPS=(build-essential pkg-config swig xz-utils libsrtp2-dev libspeex-dev libspeexdsp-dev
            libgsm1-dev libssl-dev libsamplerate0-dev uuid-dev)
JOBS="${PJSUA2_JOBS:-2}"

CACHE_ROOT="${CALLCENTER_PJSUA2_CACHE:-$HOME/.cache/callcenter/pjsua2}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KEEP_GIL_PY="$REPO_ROOT/scripts/pjsua2_keep_gil.py"

# --- Output helpers: progress on stderr, only the wheel path on stdout -----------------------
T_START=$SECONDS
LOG=/dev/null
say() { printf '[build-pjsua2 %4ss] %s\n' "$((SECONDS - T_START))" "$*" >&2; }
die() { printf 'build-pjsua2: error: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; }

PYTHON=""; INSTALL_PY=""; PRINT_PATH=0; REFRESH=0; VERBOSE=0
while (($#)); do
    case "$1" in
        --install) [[ $# -ge 2 ]] || die "--install needs a python interpreter"; INSTALL_PY="$2"; shift 2 ;;
        --python) [[ $# -ge 2 ]] || die "--python needs a python interpreter"; PYTHON="$2"; shift 2 ;;
        --print-path) PRINT_PATH=1; shift ;;
        --refresh) REFRESH=1; shift ;;
        -v|--verbose) VERBOSE=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage; die "unknown argument: $1" ;;
    esac
done

if [[ -z "$PYTHON" ]]; then
    if [[ -n "$INSTALL_PY" ]]; then PYTHON="$INSTALL_PY"
    elif [[ -n "${PJSUA2_PYTHON:-}" ]]; then PYTHON="$PJSUA2_PYTHON"
    elif [[ -x "$REPO_ROOT/.venv/bin/python" ]]; then PYTHON="$REPO_ROOT/.venv/bin/python"
    else PYTHON="$(command -v python3 || true)"
    fi
fi
[[ -n "$PYTHON" ]] && command -v "$PYTHON" >/dev/null 2>&1 || die "python interpreter not found: '${PYTHON}'"
# Keep a venv's own path (not its resolved base) so that --install targets the venv.
PYTHON="$(command -v "$PYTHON")"
PYTAG="$("$PYTHON" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')" \
    || die "cannot run $PYTHON"

# --- The configuration that the cache key covers ---------------------------------------------
config_site_h() {
    cat <<EOF
/* Written by callcenter scripts/build-pjsua2.sh: call-center sized limits. */
#define PJ_IOQUEUE_MAX_HANDLES   ${PJ_IOQUEUE_MAX_HANDLES}
#define PJSUA_MAX_CALLS          ${PJSUA_MAX_CALLS}
#define PJSUA_MAX_CONF_PORTS     ${PJSUA_MAX_CONF_PORTS}
#define PJSUA_MAX_PLAYERS        ${PJSUA_MAX_PLAYERS}
#define PJSUA_MAX_RECORDERS      ${PJSUA_MAX_RECORDERS}
#define PJSIP_MAX_TSX_COUNT      ${PJSIP_MAX_TSX_COUNT}
#define PJSIP_MAX_DIALOG_COUNT   ${PJSIP_MAX_DIALOG_COUNT}
EOF
}
os_id="$(. /etc/os-release 2>/dev/null && echo "${ID:-unknown}-${VERSION_ID:-unknown}")" || os_id=unknown
CONFIG_HASH="$({
    config_site_h
    printf 'configure %s\n' "${CONFIGURE_FLAGS[*]}"
    printf 'CFLAGS=CXXFLAGS=%s\n' "$BUILD_CFLAGS"
    printf 'recipe %s\nos %s\narch %s\npython %s\n' "$RECIPE_REVISION" "$os_id" "$(uname -m)" "$PYTAG"
    printf 'directors Call %s\ndirectors Account %s\n' "$DIRECTOR_CALLBACKS_CALL" "$DIRECTOR_CALLBACKS_ACCOUNT"
    cat "$KEEP_GIL_PY"
} | sha256sum | cut -c1-12)"

# A cached build: $CACHE_ROOT/pjproject-<version>-<snapshot>-<pyTag>-<configHash>/<wheel>
find_cached_wheel() {
    local pattern="$1" d w
    for d in $(ls -1dt "$CACHE_ROOT"/$pattern 2>/dev/null); do
        for w in "$d"/*.whl; do
            [[ -f "$w" && -f "$d/BUILDINFO" ]] && { printf '%s\n' "$w"; return 0; }
        done
    done
    return 1
}

# --- apt, tolerant of other users holding the dpkg/apt locks ---------------------------------
apt_retry() {
    local attempt out
    for attempt in $(seq 1 90); do
        if out="$("$@" 2>&1)"; then printf '%s\n' "$out" >>"$LOG"; return 0; fi
        printf '%s\n' "$out" >>"$LOG"
        if grep -qiE 'could not get lock|unable to acquire|unable to lock|is held by process|dpkg was interrupted' <<<"$out"; then
            ((attempt % 6 == 1)) && say "apt is in use by another process; waiting (attempt $attempt)"
            sleep 10
            continue
        fi
        printf '%s\n' "$out" | tail -25 >&2
        return 1
    done
    die "apt lock still held after 15 minutes: $*"
}
as_root() { if [[ $EUID -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

missing_packages() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || printf '%s ' "$p"
    done
}

ensure_packages() {
    local missing
    missing="$(missing_packages "$@")"
    [[ -z "$missing" ]] && { say "Debian packages present: $*"; return 0; }
    say "installing Debian packages: $missing"
    [[ $EUID -eq 0 ]] || command -v sudo >/dev/null || die "not root and no sudo: install $missing"
    apt_retry as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60 update \
        || die "apt-get update failed"
    # shellcheck disable=SC2086  # word splitting of the package list is intended
    apt_retry as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60 \
        install -y --no-install-recommends $missing || die "apt-get install failed: $missing"
}

# --- Run a long step: log to file; heartbeat (or full output with -v) on stderr ---------------
STEP_PID=""; BUILD_DIR=""; tmp_out=""
cleanup() {  # the build tree (~300 MB) goes unless asked for; the log in the cache stays
    [[ -n "$STEP_PID" ]] && kill "$STEP_PID" 2>/dev/null
    [[ -n "$tmp_out" && -d "$tmp_out" ]] && rm -rf "$tmp_out"
    if [[ -n "$BUILD_DIR" && -d "$BUILD_DIR" ]]; then
        if [[ "${PJSUA2_KEEP_BUILD:-0}" == 1 ]]; then say "build tree kept: $BUILD_DIR"
        else rm -rf "$BUILD_DIR"; fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
run_step() {  # run_step "description" dir_to_count_objects_in|"" command...
    local what="$1" objdir="$2" t0=$SECONDS rc=0 last=$SECONDS progress
    shift 2
    say "$what"
    printf '\n===== %s: %s\n' "$what" "$*" >>"$LOG"
    if ((VERBOSE)); then
        "$@" 2>&1 | tee -a "$LOG" >&2 || rc=$?
    else
        "$@" >>"$LOG" 2>&1 &
        STEP_PID=$!
        while kill -0 "$STEP_PID" 2>/dev/null; do
            sleep 1
            if ((SECONDS - last >= 20)); then
                last=$SECONDS
                progress=""
                [[ -n "$objdir" ]] && progress=", $(find "$objdir" -name '*.o' 2>/dev/null | wc -l) object files so far"
                say "  ... $((SECONDS - t0))s$progress"
            fi
        done
        wait "$STEP_PID" || rc=$?
        STEP_PID=""
    fi
    if ((rc != 0)); then
        printf '%s\n' "--- last lines of $LOG ---" >&2
        tail -40 "$LOG" >&2
        die "step failed ($what), exit $rc; full log: $LOG (PJSUA2_KEEP_BUILD=1 keeps the build tree)"
    fi
    say "  done in $((SECONDS - t0))s"
}

# --- Install into an interpreter's environment ------------------------------------------------
install_wheel() {
    local py="$1" wheel="$2" so
    if "$py" -c 'import importlib.metadata as m; m.distribution("pjsua2-python")' >/dev/null 2>&1; then
        say "removing the low-capacity PyPI pjsua2-python from $py's environment"
        if command -v uv >/dev/null; then uv pip uninstall -q --python "$py" pjsua2-python >&2
        else "$py" -m pip uninstall -y -q pjsua2-python >&2; fi
    fi
    say "installing $(basename "$wheel") into $py's environment"
    if command -v uv >/dev/null; then
        uv pip install -q --python "$py" --reinstall-package pjsua2 "$wheel" >&2
    else
        "$py" -m pip install -q --force-reinstall --no-deps "$wheel" >&2
    fi
    # The extension links Debian's shared srtp/speex/gsm/samplerate/ssl: make sure they are here
    # (a cache restored onto a machine without them would otherwise fail at import).
    so="$("$py" -c 'import importlib.util as u; print(u.find_spec("_pjsua2").origin)' 2>/dev/null || true)"
    if [[ -n "$so" ]] && ldd "$so" 2>/dev/null | grep -q 'not found'; then
        say "shared libraries missing for $so:"; ldd "$so" | grep 'not found' >&2
        LOG="$CACHE_ROOT/logs/install-$(date +%Y%m%d-%H%M%S).log"; mkdir -p "${LOG%/*}"
        ensure_packages "${BUILD_DEPS[@]}"
    fi
    "$py" -c 'import pjsua2 as pj; print("pjsua2 imports from", pj.__file__)' >&2 \
        || die "the installed pjsua2 does not import in $py"
}

finish() {  # finish WHEEL
    [[ -n "$INSTALL_PY" ]] && install_wheel "$INSTALL_PY" "$1"
    printf '%s\n' "$1"
    exit 0
}

# --- Fast paths -------------------------------------------------------------------------------
if ((PRINT_PATH)); then
    wheel="$(find_cached_wheel "pjproject-*-${PYTAG}-${CONFIG_HASH}")" \
        || die "no cached pjsua2 wheel for config ${CONFIG_HASH} (${PYTAG}) in $CACHE_ROOT; run scripts/build-pjsua2.sh"
    printf '%s\n' "$wheel"; exit 0
fi
if ((!REFRESH)) && [[ -z "${PJSUA2_ASTERISK_VERSION:-}" ]] \
   && wheel="$(find_cached_wheel "pjproject-*-${PYTAG}-${CONFIG_HASH}")"; then
    say "cached: $wheel"
    finish "$wheel"
fi

# --- Build --------------------------------------------------------------------------------------
mkdir -p "$CACHE_ROOT/logs" "$CACHE_ROOT/src"
LOG="$CACHE_ROOT/logs/build-$(date +%Y%m%d-%H%M%S)-$$.log"
: >"$LOG"
exec 9>"$CACHE_ROOT/.lock"
if ! flock -n 9; then
    say "another build holds $CACHE_ROOT/.lock; waiting for it"
    flock 9
    if ((!REFRESH)) && [[ -z "${PJSUA2_ASTERISK_VERSION:-}" ]] \
       && wheel="$(find_cached_wheel "pjproject-*-${PYTAG}-${CONFIG_HASH}")"; then
        say "the other build produced it: $wheel"; finish "$wheel"
    fi
fi
say "building pjsua2 for $PYTHON ($PYTAG), config ${CONFIG_HASH}; log: $LOG"

# 1. Debian build dependencies (the machine's own apt configuration).
deps=("${BUILD_DEPS[@]}")
# A Debian python needs its headers from python3-dev (pyenv and uv pythons ship their own).
if ! "$PYTHON" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
    deps+=("python$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-dev")
fi
ensure_packages "${deps[@]}"

# 2. Debian's asterisk source from sid, through a private apt configuration: the machine's
#    sources, lists and package caches are left as they are.
APT_DIR="$CACHE_ROOT/apt"
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
sources_file=/etc/apt/sources.list.d/debian.sources
mirror="${PJSUA2_DEBIAN_MIRROR:-}"
keyring=""
if [[ -z "$mirror" && -r "$sources_file" ]]; then
    # First URIs: of a stanza that is not the security archive, and that stanza's Signed-By.
    read -r mirror keyring < <(awk '
        /^[[:space:]]*$/ { if (uri != "" && uri !~ /security/) { print uri, key; found=1; exit } uri=""; key="" }
        /^URIs:/ { uri=$2 } /^Signed-By:/ { key=$2 }
        END { if (!found && uri != "" && uri !~ /security/) print uri, key }' "$sources_file") || true
fi
[[ -n "$mirror" ]] || die "no Debian mirror found in $sources_file (set PJSUA2_DEBIAN_MIRROR)"
[[ -n "$keyring" && -r "$keyring" ]] || keyring=/usr/share/keyrings/debian-archive-keyring.gpg
printf 'deb-src [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$DEBIAN_SOURCE_SUITE" >"$APT_DIR/sources.list"
APT_PRIVATE=(-o "Dir::Etc::sourcelist=$APT_DIR/sources.list" -o "Dir::Etc::sourceparts=-"
             -o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache=$APT_DIR/cache"
             -o "APT::Sandbox::User=root")
say "fetching the $DEBIAN_SOURCE_SUITE source index from $mirror (private apt lists in $APT_DIR)"
apt_retry apt-get "${APT_PRIVATE[@]}" update || die "apt-get update of the private $DEBIAN_SOURCE_SUITE source list failed"

src_spec="$DEBIAN_SOURCE_PACKAGE"
if [[ -n "${PJSUA2_ASTERISK_VERSION:-}" ]]; then
    deb_version="$PJSUA2_ASTERISK_VERSION"; src_spec="$DEBIAN_SOURCE_PACKAGE=$deb_version"
else
    deb_version="$(apt-cache "${APT_PRIVATE[@]}" showsrc --only-source "$DEBIAN_SOURCE_PACKAGE" 2>/dev/null \
        | awk '/^Version:/ { print $2 }' | sort -V | tail -1)"
fi
[[ -n "$deb_version" ]] || die "no '$DEBIAN_SOURCE_PACKAGE' source package in $DEBIAN_SOURCE_SUITE"
upstream="${deb_version#*:}"; upstream="${upstream%-*}"
tarball="$CACHE_ROOT/src/${DEBIAN_SOURCE_PACKAGE}_${upstream}.orig-Xpjproject.tar.xz"
if [[ -s "$tarball" ]]; then
    say "pjproject component of $DEBIAN_SOURCE_PACKAGE $deb_version already downloaded"
else
    say "downloading $DEBIAN_SOURCE_PACKAGE $deb_version source from $DEBIAN_SOURCE_SUITE (~13 MB, checksums verified by apt)"
    dl="$(mktemp -d "$CACHE_ROOT/src/download.XXXXXX")"
    (cd "$dl" && apt_retry apt-get "${APT_PRIVATE[@]}" source --download-only "$src_spec") \
        || { rm -rf "$dl"; die "apt-get source --download-only $src_spec failed"; }
    component="$(ls -1 "$dl"/*.orig-Xpjproject.tar.* 2>/dev/null | head -1 || true)"
    if [[ -z "$component" ]]; then
        ls -1 "$dl" >&2
        rm -rf "$dl"
        die "Debian's $DEBIAN_SOURCE_PACKAGE $deb_version no longer carries a pjproject component tarball (*.orig-Xpjproject.tar.*); files listed above"
    fi
    mv "$component" "$tarball.part"  # a .tar.xz today; tar -xf below detects the compression
    mv "$tarball.part" "$tarball"
    rm -rf "$dl"
fi

# 3. Unpack, learn the exact pjproject version, and decide the cache key.
BUILD_DIR="$(mktemp -d "${TMPDIR:-/tmp}/callcenter-pjsua2-build.XXXXXX")"
say "unpacking into $BUILD_DIR"
tar -xf "$tarball" -C "$BUILD_DIR"
PJ_SRC="$(find "$BUILD_DIR" -mindepth 1 -maxdepth 1 -type d | head -1)"
[[ -f "$PJ_SRC/version.mak" && -f "$PJ_SRC/aconfigure" ]] || die "$tarball does not hold a pjproject tree"
pj_version="$(cd "$PJ_SRC" && printf 'include version.mak\nv:\n\t@echo $(PJ_VERSION)\n' | make -s -f - v)"
snapshot="$(basename "$PJ_SRC" | sed -n 's/.*-\([0-9a-f]\{7,40\}\)$/g\1/p')"
[[ -n "$snapshot" ]] || snapshot="deb$(printf '%s' "$upstream" | tr -c 'A-Za-z0-9.' '.')"
KEY="pjproject-${pj_version}-${snapshot}-${PYTAG}-${CONFIG_HASH}"
OUT_DIR="$CACHE_ROOT/$KEY"
if wheel="$(find_cached_wheel "$KEY")"; then
    rm -rf "$BUILD_DIR"; BUILD_DIR=""
    say "cached (pjproject $pj_version $snapshot unchanged): $wheel"
    finish "$wheel"
fi
say "pjproject $pj_version ($snapshot) from $DEBIAN_SOURCE_PACKAGE $deb_version; cache key $KEY"

# 4. Configure and build the C libraries.
config_site_h >"$PJ_SRC/pjlib/include/pj/config_site.h"
# bdimad_dev.c is removed from Debian's tarball as non-free (Debian patch 2014_pjproject_unbreak).
sed -i 's/[[:space:]]bdimad_dev\.o//' "$PJ_SRC/pjmedia/build/Makefile"
! grep -q 'bdimad_dev\.o' "$PJ_SRC/pjmedia/build/Makefile" || die "could not drop bdimad_dev.o from pjmedia/build/Makefile"
cd "$PJ_SRC"
# The prefix map keeps the random build directory out of the binary, and SOURCE_DATE_EPOCH
# (below) the clock out of the wheel's zip: two builds of one key give the same wheel.
compile_flags="$BUILD_CFLAGS -ffile-prefix-map=$BUILD_DIR=/pjsua2-build"
run_step "configure ${CONFIGURE_FLAGS[*]}" "" \
    env CFLAGS="$compile_flags" CXXFLAGS="$compile_flags" ./configure "${CONFIGURE_FLAGS[@]}"
grep -q 'PJ_IOQUEUE_MAX_HANDLES' pjlib/include/pj/config_site.h || die "config_site.h was overwritten by configure"
grep -q 'PJ_IOQUEUE_IMP_EPOLL' pjlib/include/pj/compat/os_auto.h \
    || die "configure did not select the epoll ioqueue (pjlib/include/pj/compat/os_auto.h)"
run_step "make dep" "" make dep
# `lib` builds the libraries only: the test programs and sample apps are not needed here.
run_step "make -j$JOBS lib (about 40 s on 2 cores)" "$PJ_SRC" make -j"$JOBS" lib

# 5. SWIG bindings, compiled by the target interpreter, packaged as a wheel (not an egg: an egg
#    is unpacked into ~/.cache/Python-Eggs under a name without the build options, so two
#    builds on one machine can load each other's library).
SWIG_DIR="$PJ_SRC/pjsip-apps/src/swig/python"
BUILD_PY_ENV="$BUILD_DIR/pyenv"
say "preparing a build environment for $PYTHON (setuptools, wheel)"
if command -v uv >/dev/null; then
    uv venv -q --python "$PYTHON" "$BUILD_PY_ENV" >>"$LOG" 2>&1 || die "uv venv failed (see $LOG)"
    uv pip install -q --python "$BUILD_PY_ENV/bin/python" "setuptools>=70,<81" "wheel>=0.43" >>"$LOG" 2>&1 \
        || die "could not install setuptools/wheel (see $LOG)"
else
    "$PYTHON" -m venv "$BUILD_PY_ENV" >>"$LOG" 2>&1 || die "$PYTHON -m venv failed (see $LOG)"
    "$BUILD_PY_ENV/bin/python" -m pip install -q "setuptools>=70,<81" "wheel>=0.43" >>"$LOG" 2>&1 \
        || die "could not install setuptools/wheel (see $LOG)"
fi
# A local version label names the build: pip show pjsua2 tells which one is installed.
local_version="${snapshot}.${CONFIG_HASH}"
sed -i "s/version=pj_version,/version=pj_version + \"+${local_version}\",/" "$SWIG_DIR/setup.py"
grep -q "+${local_version}" "$SWIG_DIR/setup.py" || die "could not set the wheel's local version in setup.py"
# Callbacks without a director (see DIRECTOR_CALLBACKS_CALL): %feature lines before the
# classes are parsed.
nodirector_lines() {  # CLASS HEADER KEEP...
    local cls="$1" header="$2"; shift 2
    local keep=" $* " cb
    for cb in $(tr '\n' ' ' <"$header" | grep -oE 'virtual[^;(]*\bon[A-Z][A-Za-z]*[[:space:]]*\(' \
                | grep -oE 'on[A-Z][A-Za-z]*' | sort -u); do
        [[ "$keep" == *" $cb "* ]] || printf '%%feature("nodirector") pj::%s::%s;\n' "$cls" "$cb"
    done
}
swig_i="$PJ_SRC/pjsip-apps/src/swig/pjsua2.i"
{
    nodirector_lines Call "$PJ_SRC/pjsip/include/pjsua2/call.hpp" $DIRECTOR_CALLBACKS_CALL
    nodirector_lines Account "$PJ_SRC/pjsip/include/pjsua2/account.hpp" $DIRECTOR_CALLBACKS_ACCOUNT
} >"$BUILD_DIR/nodirector.i"
grep -q 'nodirector' "$BUILD_DIR/nodirector.i" || die "found no pjsua2 callbacks to build without directors (call.hpp/account.hpp changed?)"
say "callbacks without a director: $(grep -c nodirector "$BUILD_DIR/nodirector.i")"
sed -i "/^%feature(\"director\") Call;/r $BUILD_DIR/nodirector.i" "$swig_i"
grep -q 'nodirector' "$swig_i" || die "could not add the nodirector features to $swig_i"
run_step "SWIG bindings (pjsua2_wrap.cpp)" "" make -C "$SWIG_DIR" pjsua2_wrap.cpp
# Field getters and setters keep the GIL (scripts/pjsua2_keep_gil.py says why).
kept="$("$BUILD_PY_ENV/bin/python" "$KEEP_GIL_PY" "$SWIG_DIR/pjsua2_wrap.cpp")" \
    || die "could not make pjsua2's field accessors keep the GIL ($KEEP_GIL_PY)"
say "field accessors that keep the GIL: $kept"
# One ~10 MB generated C++ file, compiled on one core: the long step (about 2 min here).
run_step "SWIG bindings and wheel (make PYTHON_EXE=... wheel; about 2 min)" "" \
    env SOURCE_DATE_EPOCH="$(stat -c %Y "$PJ_SRC/version.mak")" \
    make -C "$SWIG_DIR" PYTHON_EXE="$BUILD_PY_ENV/bin/python" wheel
built="$(ls -1 "$SWIG_DIR"/dist/pjsua2-*.whl 2>/dev/null | head -1 || true)"
[[ -n "$built" ]] || die "no wheel in $SWIG_DIR/dist (see $LOG)"

# 6. Smoke test before caching: the module imports from the wheel alone.
say "smoke test: import pjsua2 from the wheel"
smoke="$BUILD_DIR/smoke"; mkdir -p "$smoke"
"$BUILD_PY_ENV/bin/python" -m zipfile -e "$built" "$smoke" >>"$LOG" 2>&1
(cd "$smoke" && "$BUILD_PY_ENV/bin/python" -I -c 'import sys; sys.path.insert(0, "."); import pjsua2 as pj; e = pj.Endpoint(); e.libCreate(); print(e.libVersion().full); e.libDestroy()') >>"$LOG" 2>&1 \
    || { tail -20 "$LOG" >&2; die "the built module does not import (see $LOG)"; }

# 7. Store in the cache, atomically.
tmp_out="$(mktemp -d "$CACHE_ROOT/.incoming.XXXXXX")"
cp "$built" "$tmp_out/"
cp "$PJ_SRC/pjlib/include/pj/config_site.h" "$tmp_out/config_site.h"
{
    echo "key: $KEY"
    echo "wheel: $(basename "$built")"
    echo "sha256: $(sha256sum "$built" | cut -d' ' -f1)"
    echo "pjproject: $pj_version ($snapshot)"
    echo "debian source: $DEBIAN_SOURCE_PACKAGE $deb_version ($DEBIAN_SOURCE_SUITE, $mirror)"
    echo "python: $PYTHON ($("$PYTHON" -c 'import sys; print(sys.version.split()[0])'))"
    echo "os: $os_id $(uname -m)"
    echo "configure: ${CONFIGURE_FLAGS[*]}"
    echo "CFLAGS=CXXFLAGS: $BUILD_CFLAGS"
    echo "recipe revision: $RECIPE_REVISION"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) in $((SECONDS - T_START)) s with make -j$JOBS"
    echo "shared libraries:"
    ldd "$(find "$SWIG_DIR/build" -name '_pjsua2*.so' | head -1)" | sed 's/^/    /'
} >"$tmp_out/BUILDINFO"
cp "$LOG" "$tmp_out/build.log"
chmod 755 "$tmp_out"
rm -rf "$OUT_DIR"
mv "$tmp_out" "$OUT_DIR"
tmp_out=""
wheel="$OUT_DIR/$(basename "$built")"
cd /
cleanup; BUILD_DIR=""
say "built in $((SECONDS - T_START)) s: $wheel"
finish "$wheel"
