#!/usr/bin/env bash
# Installs what the tests of the shared state backends run against, on a fresh Debian machine:
# PostgreSQL's server binaries (the `postgresql` package; the tests start their own server as an
# unprivileged user) and the moto S3 server (PyPI, in a virtual environment the tests find).
# Safe to run again: it installs only what is missing.
set -euo pipefail

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "installing PostgreSQL's server binaries (Debian package postgresql)"
  sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq postgresql >/dev/null
fi

venv="${VAPP_MOTO_VENV:-$HOME/.cache/vapp/moto-venv}"
if [ ! -x "$venv/bin/moto_server" ]; then
  echo "installing the moto S3 server into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.*'
fi
echo "test engines: $(ls -d /usr/lib/postgresql/*/bin | tail -1), $venv/bin/moto_server"
