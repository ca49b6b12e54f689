#!/usr/bin/env bash
# Installs the two Debian packages the tests drive besides Node, through apt-get, each only when it is missing:
#   chromium   the HTML report tests' browser (/usr/bin/chromium; test/support/browser.ts): playwright-core
#              never downloads a browser of its own;
#   trace-cmd  the reference reader the trace.dat tests compare with (trace-cmd report, and trace-cmd convert for
#              the v6 and uncompressed v7 twins of the captures; test/support/trace-cmd.ts).
# Without them those tests skip with a note, except under CI=true, where they fail: CI must run them.
# Run as root (CI and the project's machines are); otherwise through sudo when it is available.
set -euo pipefail
want=()
if [ -x /usr/bin/chromium ]; then
  echo "install-test-tools: chromium is present ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
else
  want+=(chromium)
fi
# (`trace-cmd --version` exits with 1 on 3.1.6: only whether it is on PATH counts)
if command -v trace-cmd >/dev/null 2>&1; then
  echo "install-test-tools: trace-cmd is present ($(command -v trace-cmd))"
else
  want+=(trace-cmd)
fi
[ "${#want[@]}" -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-test-tools: not root and no sudo: install ${want[*]} yourself (apt-get install ${want[*]}); the tests that need them skip without them" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
for try in 1 2 3; do
  if $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends "${want[@]}"; then break; fi
  [ "$try" = 3 ] && { echo "install-test-tools: apt-get could not install ${want[*]}" >&2; exit 1; }
  sleep 5
done
for p in "${want[@]}"; do
  case "$p" in
    chromium) test -x /usr/bin/chromium || { echo "install-test-tools: chromium installed but /usr/bin/chromium is missing" >&2; exit 1; } ;;
    trace-cmd) command -v trace-cmd >/dev/null 2>&1 || { echo "install-test-tools: trace-cmd installed but not on PATH" >&2; exit 1; } ;;
  esac
done
echo "install-test-tools: installed ${want[*]}"
