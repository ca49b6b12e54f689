#!/usr/bin/env bash
# Installs the browser the HTML report tests drive (test/support/browser.ts): Debian's chromium at
# /usr/bin/chromium, through apt-get. playwright-core never downloads a browser of its own.
# Does nothing when /usr/bin/chromium is already there. Run as root (CI and the project's machines are);
# otherwise through sudo when it is available.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "install-browser: /usr/bin/chromium is present ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-browser: not root and no sudo: install chromium yourself (apt-get install chromium); the browser tests skip without it" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
for try in 1 2 3; do
  if $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends chromium; then break; fi
  [ "$try" = 3 ] && { echo "install-browser: apt-get could not install chromium" >&2; exit 1; }
  sleep 5
done
test -x /usr/bin/chromium || { echo "install-browser: chromium installed but /usr/bin/chromium is missing" >&2; exit 1; }
echo "install-browser: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
