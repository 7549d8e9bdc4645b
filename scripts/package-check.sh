#!/usr/bin/env bash
# The Debian package as a user gets it: `cargo deb` builds it from the checkout, `dpkg -i` installs it,
# and the installed vapp runs (its version names the commit), its man pages and completions are where
# man and the shells look, and it plans the examples on its sandbox. The package is removed at the end.
# cargo-deb is installed (pinned) when missing; dpkg and man come with Debian.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! cargo deb --version 2>/dev/null | grep -q "3.7.0"; then
  cargo install cargo-deb --locked --version 3.7.0
fi
if ! command -v man >/dev/null; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq man-db >/dev/null
fi

cargo deb --locked
deb=$(ls -t target/debian/vapp_*.deb | head -n 1)
echo "built $deb"
contents=$(dpkg-deb --contents "$deb")
for path in ./usr/bin/vapp ./usr/share/man/man1/vapp.1.gz ./usr/share/man/man1/vapp-plan.1.gz \
  ./usr/share/man/man1/vapp-state-mv.1.gz ./usr/share/bash-completion/completions/vapp \
  ./usr/share/zsh/vendor-completions/_vapp ./usr/share/fish/vendor_completions.d/vapp.fish \
  ./usr/share/doc/vapp/README.md ./usr/share/doc/vapp/copyright; do
  grep -q " $path\$" <<< "$contents" || { echo "the package lacks $path"; exit 1; }
done

as_root dpkg -i "$deb"
trap 'as_root dpkg -r vapp >/dev/null' EXIT
/usr/bin/vapp --version | grep -E '^vapp [0-9.]+ \((commit [0-9a-f]+|built outside Git)' \
  || { echo "vapp --version does not name the commit"; exit 1; }
man -w vapp | grep -q /usr/share/man/man1/vapp.1 || { echo "man -w vapp does not find the page"; exit 1; }
man -w vapp-plan >/dev/null
# Each command's page shows its global options in its synopsis.
man -P cat vapp-account-show 2>/dev/null | grep -A3 SYNOPSIS | grep -q -- "--sandbox" \
  || zcat /usr/share/man/man1/vapp-account-show.1.gz | grep -A3 SYNOPSIS | grep -q 'sandbox'
# bash completion offers a command only its own options.
token=$(bash -c 'source /usr/share/bash-completion/completions/vapp
  COMP_WORDS=(vapp token --); COMP_CWORD=2; _vapp vapp -- token; printf "%s\n" "${COMPREPLY[@]}"')
grep -qx -- "--state" <<< "$token" || { echo "bash completion of vapp token lacks --state"; exit 1; }
if grep -qx -- "--numbers-url" <<< "$token"; then echo "bash completion offers vapp token --numbers-url"; exit 1; fi

# The installed binary plans the examples on its sandbox, in a directory of its own.
work=$(mktemp -d)
cp -r examples "$work/"
(cd "$work" && /usr/bin/vapp --sandbox -f examples plan --detailed-exitcode >/dev/null) || [ $? -eq 2 ]
rm -rf "$work"
echo "package ok: $deb"
