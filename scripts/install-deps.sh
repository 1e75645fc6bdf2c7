#!/usr/bin/env bash
# Installs the system packages Drawbridge needs to build, test and run the
# quickstart (Debian/Ubuntu), and checks for a Swift 6.3+ toolchain.
# Idempotent and silent when everything is already present.
#
#   scripts/install-deps.sh [--tests]    # --tests (scripts/test.sh): also what the browser test
#                                         # needs (chromium, its driver, Selenium, nginx, openssl)
set -euo pipefail

PACKAGES=(postgresql libargon2-dev libcrypt-dev pkg-config python3 python3-cryptography python3-authlib python3-requests python3-venv)
# BrowserSSOTests (Tests/e2e/browser): too heavy for a gateway host, so only for the test command.
BROWSER_TEST_PACKAGES=(chromium chromium-driver python3-selenium nginx-light openssl)

case "${1:-}" in
    --tests) PACKAGES+=("${BROWSER_TEST_PACKAGES[@]}") ;;
    "") ;;
    *) printf 'usage: scripts/install-deps.sh [--tests]\n' >&2; exit 2 ;;
esac

die() { printf 'install-deps.sh: %s\n' "$*" >&2; exit 1; }

# pkg_present NAME: is the Debian package installed (or, for a few, is an
# equivalent already available)?
pkg_present() {
    local status
    status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]] && return 0
    case "$1" in
        postgresql)
            # A versioned server package (postgresql-15, ...) without the
            # metapackage is fine too.
            compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null && return 0 ;;
        python3)
            command -v python3 >/dev/null 2>&1 && return 0 ;;
        nginx-light)
            # The browser test (BrowserSSOTests) needs an nginx with auth_request: nginx-full,
            # nginx-extras or Debian 12's plain nginx package have it too.
            command -v nginx >/dev/null 2>&1 && nginx -V 2>&1 | grep -q -- '--with-http_auth_request_module' \
                && return 0 ;;
    esac
    return 1
}

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for pkg in "${PACKAGES[@]}"; do
        pkg_present "$pkg" || missing+=("$pkg")
    done
    if ((${#missing[@]} > 0)); then
        if ((EUID == 0)); then
            as_root=()
        elif command -v sudo >/dev/null 2>&1; then
            as_root=(sudo)
        else
            die "missing packages: ${missing[*]} (not root and no sudo; install them with apt-get as root)"
        fi
        printf 'install-deps.sh: installing %s\n' "${missing[*]}" >&2
        "${as_root[@]}" apt-get update -qq >&2 \
            || die "apt-get update failed (needed to install: ${missing[*]})"
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
            || die "apt-get install failed for: ${missing[*]}"
    fi
else
    # Not Debian-like: we cannot install anything, only check.
    command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null \
        || missing+=("postgresql (initdb)")
    command -v pkg-config >/dev/null 2>&1 || missing+=("pkg-config")
    if command -v pkg-config >/dev/null 2>&1; then
        pkg-config --exists libargon2 || missing+=("libargon2 (dev files)")
    fi
    command -v python3 >/dev/null 2>&1 || missing+=("python3")
    ((${#missing[@]} == 0)) \
        || die "no dpkg/apt on this system; install manually: ${missing[*]}"
fi

# Swift 6.3 or newer must be on PATH.
command -v swift >/dev/null 2>&1 \
    || die "no 'swift' on PATH; install a Swift 6.3+ toolchain (https://www.swift.org/install/) and add its usr/bin to PATH"
swift_version_output="$(swift --version 2>&1 || true)"
if [[ "$swift_version_output" =~ Swift\ version\ ([0-9]+)\.([0-9]+) ]]; then
    major="${BASH_REMATCH[1]}"
    minor="${BASH_REMATCH[2]}"
    if ((major < 6 || (major == 6 && minor < 3))); then
        die "Swift $major.$minor found on PATH ($(command -v swift)), but Drawbridge needs Swift 6.3 or newer"
    fi
else
    die "could not determine the Swift version from 'swift --version'; Drawbridge needs Swift 6.3 or newer"
fi
