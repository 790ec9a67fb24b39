#!/usr/bin/env bash
# Builds Folio's Debian package, folio_<version>-1_amd64.deb, into DIR
# (default target/debian) with cargo-deb: the release binary, the desktop
# entry and icon (Folio appears in the desktop's menu), the ICC profile and
# the README, depending on the libraries the binary links ($auto) and the
# packages it loads at run time (the window's graphics libraries, SANE's
# tools, Tesseract). Install it with `sudo apt-get install ./folio_*.deb`.
# --dev packages the dev build already made by `cargo build` (the tests use it).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
if [ "${1:-}" = "--dev" ]; then profile=dev; shift; fi
out="$(realpath -m "${1:-target/debian}")"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
CARGO_DEB_VERSION=3.8.0
if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
  echo "Installing cargo-deb $CARGO_DEB_VERSION"
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
fi
mkdir -p "$out"
if [ "$profile" = dev ]; then
  cargo deb --profile dev --no-build --fast --quiet -o "$out"
else
  bash installer/setup.sh
  cargo deb --locked -o "$out"
fi
