#!/usr/bin/env bash
# Installs what the console's browser tests drive: Debian's chromium and chromium-driver (Playwright's library
# drives /usr/bin/chromium; `playwright install` is never run). Called by `./dev test` (only the tests need a browser); quick when installed.
# Where apt cannot install (not Debian, not root and no sudo), it warns and goes on: the console tests then fail
# with a message that says what is missing.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "console_setup: apt-get not found; install Chromium yourself (the console tests need /usr/bin/chromium)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "console_setup: not root and no sudo; run: apt-get install chromium chromium-driver" >&2
    exit 0
  fi
fi
echo "console_setup: installing chromium and chromium-driver (Debian packages) ..." >&2
if ! { $SUDO apt-get update -qq &&
       DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver \
         >/dev/null; }; then
  echo "console_setup: apt-get could not install chromium; the console tests will fail until it is installed" >&2
fi
exit 0
