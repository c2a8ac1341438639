#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs the real clients the
# conformance tests drive (Debian packages), then checks formatting, vet,
# staticcheck and runs every test with the race detector.
#
#   bash conformance/test.sh            # everything
#   bash conformance/test.sh ./ipmi/... # just some packages
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2

# Debian package -> a command that succeeds once it is installed.
declare -A want=(
  [ipmitool]="command -v ipmitool"
  [curl]="command -v curl"
  [freeipmi-tools]="test -x /usr/sbin/ipmi-sensors"
  [redfishtool]="command -v redfishtool"
  [python3-sushy]="/usr/bin/python3 -c 'import sushy'"
  [ansible]="test -f /usr/lib/python3/dist-packages/ansible_collections/community/general/plugins/modules/redfish_info.py"
  [prometheus]="test -x /usr/bin/prometheus"
  [prometheus-ipmi-exporter]="test -x /usr/bin/prometheus-ipmi-exporter"
  [python3-ironicclient]="command -v openstack && /usr/bin/python3 -c 'import ironicclient.osc.plugin'"
  # builds the container image (conformance/image_test.go)
  [podman]="command -v podman"
  # crashsoak.sh (TestCrashSoakShort) reads JSON with jq; curl (above) drives Redfish
  [jq]="command -v jq"
  # cli_test.go: the completion scripts loaded into the real shells, man
  # pages rendered by man(1), progress bars under script(1)'s pty
  [bash-completion]="test -f /usr/share/bash-completion/bash_completion"
  [zsh]="command -v zsh"
  [fish]="command -v fish"
  [man-db]="command -v man"
  [bsdutils]="command -v script"
  # the web UI in a real browser (conformance/webui_test.go, driven with chromedp)
  [chromium]="command -v chromium"
  # scenario_test.go: JUnit XML read back by junitparser, TAP consumed by prove
  [python3-junitparser]="/usr/bin/python3 -c 'import junitparser'"
  [perl]="command -v prove"
  # webui's TestSSEJS runs static/sse.js under Node against redfish/sse
  [nodejs]="command -v node"
  # platform/firmware's TestIASL*: Debian's iasl disassembles the SRAT and HMAT bytes
  [acpica-tools]="command -v iasl"
)

# apt_get waits up to 10 minutes for another apt or dpkg (an unattended
# upgrade, a second CI job) to let go of its lock instead of failing.
apt_get() {
  local tries=0
  until "$@" -o DPkg::Lock::Timeout=600 2>/tmp/bmcemu-apt.err; do
    if grep -qi 'lock' /tmp/bmcemu-apt.err && [ $tries -lt 60 ]; then
      tries=$((tries + 1))
      echo "waiting for the apt lock held by another process ($tries/60)" >&2
      sleep 10
      continue
    fi
    cat /tmp/bmcemu-apt.err >&2
    echo "apt failed (see above); install the packages by hand and rerun" >&2
    return 1
  done
}
missing=()
for pkg in "${!want[@]}"; do
  bash -c "${want[$pkg]}" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_get apt-get update -qq
    apt_get apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "installing ${missing[*]} with sudo"
    apt_get sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_get sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "The conformance tests need these Debian packages: ${missing[*]}" >&2
    echo "Install them (sudo apt-get install ${missing[*]}) or run this script as root." >&2
    exit 1
  fi
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi

echo "== go vet"
go vet ./...

echo "== staticcheck $STATICCHECK_VERSION"
go run "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" ./...

echo "== go test -race"
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)
go test -race -count=1 -timeout 20m "${pkgs[@]}"

# Every fuzz target for a few seconds: catches a parser that crashes on
# the first inputs a fuzzer tries (conformance/fuzz.sh 10m for the long run).
if [ $# -eq 0 ]; then
  echo "== fuzz (2s per target)"
  bash conformance/fuzz.sh 2s
fi
