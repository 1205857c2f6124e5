#!/usr/bin/env bash
# Each function's release arm64 Lambda binary and zip, each built on its own (built
# together, cargo would unify their features): `bash infra/measurements/binary_sizes.sh`,
# after `bash infra/test` installed cargo-lambda. Prints: function, binary bytes, zip bytes.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/target/tools/venv/bin:$PATH"
rustup target add aarch64-unknown-linux-gnu >/dev/null
for dir in functions/*/; do
  f=$(basename "$dir")
  cargo lambda build --release --arm64 --package "$f" --output-format zip >/dev/null 2>&1
  zip="target/lambda/$f/bootstrap.zip"
  echo "$f $(unzip -p "$zip" bootstrap | wc -c) $(stat -c %s "$zip")"
done
