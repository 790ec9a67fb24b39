#!/usr/bin/env bash
# Sets up the machine, builds Folio (release) and runs it with the given arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
bash installer/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked
exec ./target/release/folio "$@"
