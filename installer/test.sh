#!/usr/bin/env bash
# The test command of the README: sets up the machine, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash installer/setup.sh --tests
export PATH="$HOME/.cargo/bin:$PATH"
cargo test --locked 2>&1
