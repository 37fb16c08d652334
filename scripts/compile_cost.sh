#!/usr/bin/env bash
# What a user pays to compile wiretape on a CI run without a cache, against
# the usual alternative (wiremock-rs for mocks, reqwest for the client).
#
# Creates two throwaway crates outside the repository, each with one trivial
# `#[tokio::test]`:
#   wiretape-user  wiretape (by path, default features) + tokio (macros, rt),
#                  compiled as a crates.io dependency is: without incremental
#                  compilation, which cargo otherwise turns on for a path
#                  dependency
#   wiremock-user  wiremock + reqwest (its default features) + tokio (macros, rt)
# downloads their dependencies first (`cargo fetch`, so the network is not
# timed), then times `cargo test --no-run` from an empty target directory for
# each, ROUNDS times, interleaved, and prints the crate counts.
#
# Usage: scripts/compile_cost.sh [ROUNDS]        (default 2)
# Environment:
#   WIRETAPE_FEATURES  extra wiretape features for the wiretape crate ("" by default)
#   WIRETAPE_DEFAULT   set to 0 for `default-features = false`
#   REQWEST_FEATURES   reqwest features; empty (the default) means reqwest's defaults
#   WIRETAPE_INCREMENTAL=1  compile wiretape incrementally, as a path dependency
#                      (how this script measured before issue 12's part 5)
#   TIMINGS=1          also write `cargo build --timings` reports (both crates)
#   WORK               where the crates and target dirs go
#                      (default: $CARGO_TARGET_DIR/compile_cost, or /tmp/wiretape-compile-cost)
# Timings depend on the machine and its load: compare the two crates within
# one run, never against numbers from another machine.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
rounds="${1:-2}"
work="${WORK:-${CARGO_TARGET_DIR:-/tmp/wiretape-compile-cost}/compile_cost}"
mkdir -p "$work"

wiretape_dep="path = \"$repo\""
if [ "${WIRETAPE_DEFAULT:-1}" = 0 ]; then
  wiretape_dep="$wiretape_dep, default-features = false"
fi
if [ -n "${WIRETAPE_FEATURES:-}" ]; then
  wiretape_dep="$wiretape_dep, features = [$(printf '"%s",' ${WIRETAPE_FEATURES//,/ })]"
fi
reqwest_dep='version = "0.13"'
if [ -n "${REQWEST_FEATURES:-}" ]; then
  reqwest_dep="$reqwest_dep, default-features = false, features = [$(printf '"%s",' ${REQWEST_FEATURES//,/ })]"
fi

# A registry dependency is compiled without incremental compilation; a path
# dependency gets it, like the user's own code, and a clean build pays for
# writing its state. The override makes wiretape, though found by path,
# compile as a user's `wiretape = "0.1"` would.
wiretape_profile='[profile.dev.package.wiretape]
incremental = false'
if [ "${WIRETAPE_INCREMENTAL:-0}" = 1 ]; then
  wiretape_profile=''
fi

# new_crate NAME DEPENDENCIES TEST_BODY [MANIFEST_TAIL]
new_crate() {
  local dir="$work/$1"
  rm -rf "$dir"
  mkdir -p "$dir/src" "$dir/tests"
  cat >"$dir/Cargo.toml" <<EOF
[package]
name = "$1"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$2
tokio = { version = "1", features = ["macros", "rt"] }

[workspace]

${4:-}
EOF
  : >"$dir/src/lib.rs"
  cat >"$dir/tests/smoke.rs" <<EOF
#[tokio::test]
async fn builds() {
    $3
}
EOF
}

new_crate wiretape-user "wiretape = { $wiretape_dep }" \
  'let _router = wiretape::mock::Router::new();' "$wiretape_profile"
new_crate wiremock-user "wiremock = \"0.6\"
reqwest = { $reqwest_dep }" \
  'let _server = wiremock::MockServer::start().await; let _client = reqwest::Client::new();'
# The same dependency versions as the repository's own lockfile.
cp "$repo/Cargo.lock" "$work/wiretape-user/Cargo.lock"

for name in wiretape-user wiremock-user; do
  (cd "$work/$name" && cargo fetch --quiet)
done

echo "crates (cargo tree -e normal --prefix none | sort -u | wc -l):"
for name in wiretape-user wiremock-user; do
  count=$(cd "$work/$name" && cargo tree -e normal --prefix none | sort -u | wc -l)
  printf '  %-14s %s\n' "$name" "$count"
done

# Wall time is what a CI run waits; CPU time (user + system, every rustc
# process) moves less when other work shares the cores.
echo "clean \`cargo test --no-run\` (debug), seconds:"
TIMEFORMAT='%R %U %S'
for round in $(seq "$rounds"); do
  for name in wiretape-user wiremock-user; do
    target="$work/target-$name"
    rm -rf "$target"
    if ! times=$( { time (cd "$work/$name" && CARGO_TARGET_DIR="$target" \
        cargo test --no-run --quiet >"$work/$name.log" 2>&1); } 2>&1 ); then
      cat "$work/$name.log" >&2
      exit 1
    fi
    read -r wall user sys <<<"$times"
    printf '  round %s  %-14s wall %6.1f  cpu %6.1f\n' "$round" "$name" "$wall" "$(echo "$user + $sys" | bc)"
  done
done

# Which crates cost most: cargo's per-crate report, one per test crate.
if [ "${TIMINGS:-0}" = 1 ]; then
  for name in wiretape-user wiremock-user; do
    target="$work/target-timings-$name"
    rm -rf "$target"
    (cd "$work/$name" && CARGO_TARGET_DIR="$target" cargo test --no-run --quiet --timings >/dev/null 2>&1)
    echo "timings: $target/cargo-timings/cargo-timing.html"
  done
fi
