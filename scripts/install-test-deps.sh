#!/usr/bin/env bash
# Installs the Debian packages the tests need when they are missing, so that on a
# fresh machine `npm test` is the only set-up step. Runs as root (CI and dev machines).
set -euo pipefail
# Each entry: a command the tests run (or, starting with /, a file they read), and
# the Debian package that provides it.
needed=(
  chromium:chromium                     # noVNC end-to-end (driven by playwright-core)
  Xvnc:tigervnc-standalone-server       # the VNC server behind the gateway
  vncpasswd:tigervnc-tools              # writes Xvnc's password file
  xsetroot:x11-xserver-utils            # paints the known desktop colour
  xterm:xterm                           # receives the typed text
  xdotool:xdotool                       # reads the X pointer position
  websockify:websockify                 # the reference gateway (e2e and bench)
  systemd-socket-activate:systemd       # socket activation and systemd-notify (test/systemd.test.ts)
  xclip:xclip                           # reads and sets the VNC desktop's clipboard
  /usr/share/novnc/vnc.html:novnc       # noVNC's own application, which --novnc serves when installed
)
missing=()
for entry in "${needed[@]}"; do
  cmd=${entry%%:*}
  pkg=${entry#*:}
  if [[ $cmd == /* ]]; then
    [ -e "$cmd" ] || missing+=("$pkg")
  else
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing test dependencies: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
