#!/usr/bin/env bash
# Renders deploy/nginx/drawbridge.conf for a test on loopback: the production file stays the only
# copy, this script only substitutes listen ports, upstream ports, certificate paths and the ACME
# root, then refuses to write a result in which one of them was left over.
#
#   render.sh --out FILE --http-port N --https-port N --drawbridge-port N --mattermost-port N \
#             --app-port N --cert FILE --key FILE --acme-root DIR [--ipv6 yes|no] [--source FILE]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_file="$here/../drawbridge.conf"
out="" http_port="" https_port="" drawbridge_port="" mattermost_port="" app_port=""
cert="" key="" acme_root="" ipv6="no"

while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="$2" ;;
        --http-port) http_port="$2" ;;
        --https-port) https_port="$2" ;;
        --drawbridge-port) drawbridge_port="$2" ;;
        --mattermost-port) mattermost_port="$2" ;;
        --app-port) app_port="$2" ;;
        --cert) cert="$2" ;;
        --key) key="$2" ;;
        --acme-root) acme_root="$2" ;;
        --ipv6) ipv6="$2" ;;
        --source) source_file="$2" ;;
        *) echo "render.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift 2
done

for v in out http_port https_port drawbridge_port mattermost_port app_port cert key acme_root; do
    if [ -z "${!v}" ]; then echo "render.sh: --${v//_/-} is required" >&2; exit 2; fi
done

if [ "$ipv6" = yes ]; then
    v6_http="s|listen \[::\]:80;|listen [::1]:$http_port;|"
    v6_https="s|listen \[::\]:443 |listen [::1]:$https_port |"
else
    v6_http='\|listen \[::\]:80;|d'
    v6_https='\|listen \[::\]:443 |d'
fi

rendered="$(sed \
    -e "s|listen 80;|listen 127.0.0.1:$http_port;|" \
    -e "$v6_http" \
    -e "s|listen 443 |listen 127.0.0.1:$https_port |" \
    -e "$v6_https" \
    -e "s|server 127\.0\.0\.1:8080;|server 127.0.0.1:$drawbridge_port;|" \
    -e "s|server 127\.0\.0\.1:8065;|server 127.0.0.1:$mattermost_port;|" \
    -e "s|server 127\.0\.0\.1:3000;|server 127.0.0.1:$app_port;|" \
    -e "s|/etc/letsencrypt/live/[^/;]*/fullchain\.pem|$cert|" \
    -e "s|/etc/letsencrypt/live/[^/;]*/privkey\.pem|$key|" \
    -e "s|root /var/www/letsencrypt;|root $acme_root;|" \
    "$source_file")"

# Anything the production file gained that this script does not know how to move is an error,
# not a silent test of the wrong thing.
leftover="$(printf '%s\n' "$rendered" | grep -v '^\s*#' \
    | grep -nE 'listen +(\[::\]:)?[0-9]+[ ;]|server +[^ ]+:(8080|8065|3000);|/etc/letsencrypt|/var/www/letsencrypt' || true)"
if [ -n "$leftover" ]; then
    echo "render.sh: could not substitute these lines of $source_file:" >&2
    printf '%s\n' "$leftover" >&2
    exit 1
fi

printf '%s\n' "$rendered" > "$out"
