#!/usr/bin/env bash
# Install the Debian packages 书问 uses when they are missing: espeak-ng (offline speech) always,
# chromium + fonts-noto-cjk + fonts-noto-color-emoji (browser test, glyphs) with --test. Without apt it says what to install.
set -uo pipefail
want=()
command -v espeak-ng >/dev/null || want+=(espeak-ng)
if [ "${1:-}" = "--test" ]; then
  command -v chromium >/dev/null || want+=(chromium)
  fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || want+=(fonts-noto-cjk)
  fc-list 2>/dev/null | grep -qi "Noto Color Emoji" || want+=(fonts-noto-color-emoji)
fi
[ ${#want[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo ">> please install: ${want[*]} (no apt-get here)" >&2
  [ "${1:-}" = "--test" ] && exit 1 || exit 0
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo ">> installing Debian packages: ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q "${want[@]}" >/dev/null \
  || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${want[@]}" >/dev/null; }
status=$?
if [ $status -ne 0 ]; then
  echo ">> could not install ${want[*]} with apt" >&2
  [ "${1:-}" = "--test" ] && exit 1
fi
exit 0
