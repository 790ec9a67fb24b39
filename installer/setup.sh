#!/usr/bin/env bash
# Installs what Folio needs to build, run and be tested on Debian or Ubuntu.
# Idempotent: packages already present are left alone. Uses sudo when not root.
# `--tests` also installs what only the tests need (Node.js and the FHIR engine).
set -euo pipefail
FOR_TESTS=0
[ "${1:-}" = "--tests" ] && FOR_TESTS=1

PACKAGES=(
  build-essential pkg-config cmake nasm   # compilers; libjpeg-turbo (turbojpeg crate) and zxing-cpp (zxing-cpp crate) are built from source
  libzbar-dev                             # barcode reading
  libssl-dev                              # libcrypto for SQLCipher (encrypted station databases)
  libtss2-dev                             # the TPM 2.0 software stack (a TPM's half of each copy of the station key)
  libsane-dev sane-utils                  # scanners (SANE)
  tesseract-ocr tesseract-ocr-eng         # searchable text (OCR), loaded at run time
  qpdf poppler-utils                      # PDF checks and rasterising in tests
  libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6 libgl1 libegl1 libgl1-mesa-dri  # the station window (X11/Wayland, OpenGL)
  zenity                                  # file dialogs when no desktop portal is running
  ca-certificates curl
)

if ! command -v apt-get >/dev/null 2>&1; then
  echo "Folio's setup script supports Debian and Ubuntu (apt-get)." >&2
  echo "On other systems install: a C compiler, pkg-config, cmake, nasm, the zbar and SANE" >&2
  echo "development libraries, Tesseract (for OCR), qpdf and poppler-utils, and Rust (rustup.rs), then run cargo build --release." >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "Run this script as root or install sudo." >&2; exit 1
  fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "Rust is not installed: install it from https://rustup.rs (stable), then run this again." >&2
  exit 1
fi

# ---- Node.js and the test FHIR engine (tests/fhir_engine) --------------------
# The MHD tests run Medplum's FHIR engine (npm packages pinned in
# tests/fhir_engine/package-lock.json) under Node 20 or later.
if [ "$FOR_TESTS" = 1 ]; then
# The package test builds the .deb with cargo-deb (installer/build-deb.sh).
if ! cargo deb --version 2>/dev/null | grep -q "3.8.0"; then
  echo "Installing cargo-deb 3.8.0 (the package test builds the .deb with it)"
  cargo install cargo-deb --version 3.8.0 --locked
fi
if ! command -v sqlite3 >/dev/null 2>&1; then
  echo "Installing: sqlite3 (the audit-tamper tests drop the append-only triggers with it)"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends sqlite3
fi
if ! command -v valgrind >/dev/null 2>&1; then
  echo "Installing: valgrind (a SANE scan is checked for invalid memory reads)"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends valgrind
fi
# Apache PDFBox Preflight (Debian's, on Java) checks every PDF the tests
# write is PDF/A-1b; the tests run it as a Java source file, which needs a JDK.
pdfa=()
java --list-modules 2>/dev/null | grep -q '^jdk.compiler' || pdfa+=(default-jdk-headless)
for p in libpdfbox2-java libactivation-java libjaxb-api-java; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || pdfa+=("$p")
done
if [ ${#pdfa[@]} -gt 0 ]; then
  echo "Installing: ${pdfa[*]} (PDFBox Preflight, a PDF/A-1b validator)"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${pdfa[@]}"
fi
# A software TPM 2.0 and its tools for the encryption tests (tests/encryption.rs).
tpm=()
for p in swtpm swtpm-tools tpm2-tools; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || tpm+=("$p")
done
if [ ${#tpm[@]} -gt 0 ]; then
  echo "Installing: ${tpm[*]} (a software TPM for the encryption tests)"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${tpm[@]}"
fi
# A throwaway single-node Ceph (radosgw, an S3 server) for the S3 upload tests
# (tests/common/ceph_node.sh).
ceph=()
for p in radosgw ceph-mon ceph-osd ceph-common; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || ceph+=("$p")
done
if [ ${#ceph[@]} -gt 0 ]; then
  echo "Installing: ${ceph[*]} (a single-node Ceph S3 server for the S3 tests)"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${ceph[@]}"
fi
FOLIO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENGINE_DIR="$FOLIO_ROOT/tests/fhir_engine"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "Installing: nodejs npm"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends nodejs npm
fi
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$NODE_MAJOR" -lt 20 ]; then
  echo "Node.js $(node --version) is too old for the test FHIR engine: install Node 20 or later" >&2
  echo "(https://nodejs.org or your distribution's backports), then run this again." >&2
  exit 1
fi
if [ -f "$ENGINE_DIR/package-lock.json" ]; then
  STAMP="$ENGINE_DIR/node_modules/.folio-installed-lock"
  if [ -f "$STAMP" ] && cmp -s "$STAMP" "$ENGINE_DIR/package-lock.json"; then
    echo "The test FHIR engine's npm packages are installed."
  else
    echo "Installing the test FHIR engine's npm packages (npm ci in tests/fhir_engine)"
    (cd "$ENGINE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$ENGINE_DIR/package-lock.json" "$STAMP"
  fi
fi
fi
# ---- end of the Node.js section -----------------------------------------------

echo "Folio's system dependencies are installed."
