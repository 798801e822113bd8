#!/usr/bin/env bash
# The shell steps of the release workflow (.github/workflows/release.yml), kept here so they can be
# read, changed and tried out without a hosted runner.
#
#   scripts/release.sh version TAG
#       Prints the SemVer version of a tag such as v1.2.3 (and writes it to $GITHUB_OUTPUT as
#       `version` when there is one); fails unless tauri.conf.json and
#       Cargo.toml ([workspace.package]) carry the same version: the app reports its Cargo version
#       to the server, so a build published as another version would always look out of date.
#   scripts/release.sh require NAME...
#       Fails, naming each one, when any of these environment variables (the workflow maps each
#       repository secret to the variable of the same name) is empty.
#   scripts/release.sh publish PLATFORM VERSION FILE|URL
#       Publishes a build to the fleet's release channel when DOORSTEP_SERVER_URL and
#       DOORSTEP_RELEASE_TOKEN are set (otherwise says so and succeeds): POST
#       {server}/v1/admin/releases, multipart form with platform (android|ios|linux), version, and
#       file (an upload) or url (an iOS App Store / TestFlight link), Authorization: Bearer <token>.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# In a GitHub Actions log, a line that starts with ::error:: is shown as an annotation.
annotate() { if [ -n "${GITHUB_ACTIONS:-}" ]; then echo "::$1::$2"; else say "$1: $2"; fi; }

cmd="${1:-}"; shift || true
case "$cmd" in
  version)
    [ "$#" -eq 1 ] || die "usage: scripts/release.sh version TAG"
    tag="$1" version="${1#v}"
    semver='^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$'
    [[ "$tag" == v* && "$version" =~ $semver ]] || die "the tag $tag is not v<SemVer> (e.g. v1.2.3)"
    conf="$(node -p 'require("./tauri.conf.json").version')"
    cargo="$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)"
    if [ "$conf" != "$version" ] || [ "$cargo" != "$version" ]; then
      annotate error "the tag $tag says $version, but tauri.conf.json says $conf and Cargo.toml ([workspace.package]) says $cargo: set both to $version, commit, and tag that commit"
      exit 1
    fi
    echo "$version"
    if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "version=$version" >>"$GITHUB_OUTPUT"; fi
    ;;
  require)
    missing=()
    for name in "$@"; do [ -n "${!name:-}" ] || missing+=("$name"); done
    if [ "${#missing[@]}" -gt 0 ]; then
      for name in "${missing[@]}"; do
        annotate error "the repository secret $name is not set (Settings > Secrets and variables > Actions; docs/mobile.md says what it holds)"
      done
      exit 1
    fi
    say "secrets present: $*"
    ;;
  publish)
    [ "$#" -eq 3 ] || die "usage: scripts/release.sh publish PLATFORM VERSION FILE|URL"
    platform="$1" version="$2" what="$3"
    case "$platform" in android | ios | linux) ;; *) die "platform must be android, ios or linux, not $platform" ;; esac
    if [ -z "${DOORSTEP_SERVER_URL:-}" ] || [ -z "${DOORSTEP_RELEASE_TOKEN:-}" ]; then
      annotate notice "not published to a release channel: the secrets DOORSTEP_SERVER_URL and DOORSTEP_RELEASE_TOKEN are not both set"
      exit 0
    fi
    form=(-F "platform=$platform" -F "version=$version")
    if [[ "$what" == https://* ]]; then
      form+=(-F "url=$what")
    else
      [ -f "$what" ] || die "no file $what to publish"
      form+=(-F "file=@$what")
    fi
    endpoint="${DOORSTEP_SERVER_URL%/}/v1/admin/releases"
    say "publishing $platform $version (${what##*/}) to $endpoint"
    # The token goes in a header read from stdin, so it is never on a command line.
    answer="$(mktemp)"
    status="$(printf 'Authorization: Bearer %s\n' "$DOORSTEP_RELEASE_TOKEN" |
      curl --silent --show-error --retry 3 --max-time 600 \
        -H @- "${form[@]}" -o "$answer" -w '%{http_code}' "$endpoint")" || status="000"
    if [[ "$status" != 2* ]]; then
      annotate error "publishing $platform $version failed: HTTP $status $(head -c 500 "$answer")"
      rm -f "$answer"
      exit 1
    fi
    say "published: HTTP $status $(head -c 500 "$answer")"
    rm -f "$answer"
    ;;
  *) die "usage: scripts/release.sh version TAG | require NAME... | publish PLATFORM VERSION FILE|URL" ;;
esac
