#!/usr/bin/env bash
# Build cost of toggles: a clean build of toggles-macros, and `cargo check` / `cargo build
# --release` of a generated crate with N toggles beside one with N plain statics, plus the
# binary size each toggle adds. Prints a Markdown table for BENCHMARKS.md.
#
#   scripts/build-cost.sh [N]      (default N = 1000)
set -euo pipefail
n=${1:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/target/build-cost
rm -rf "$work"
mkdir -p "$work"

seconds() { # run a command, print its wall time in seconds
  local start ms
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf '%d.%02d' $((ms / 1000)) $((ms % 1000 / 10))
}

gen() { # gen NAME KIND: a binary crate with N statics of KIND (toggles|plain)
  local dir=$work/$1
  mkdir -p "$dir/src"
  cat >"$dir/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
toggles = { path = "$root" }

[workspace]
TOML
  {
    if [ "$2" = toggles ]; then
      echo 'use toggles::{toggle, Flag};'
    else
      echo 'use std::sync::atomic::{AtomicBool, Ordering};'
    fi
    for i in $(seq 1 "$n"); do
      if [ "$2" = toggles ]; then
        echo "/// Toggle number $i of the build-cost benchmark."
        echo "#[toggle(namespace = \"bench\", life = \"temporary\", remove_by = \"2030-01-01\", owner = \"bench\")]"
        echo "pub static T$i: Flag;"
      else
        echo "/// Static number $i of the build-cost benchmark."
        echo "pub static T$i: AtomicBool = AtomicBool::new(false);"
      fi
    done
    echo 'fn main() {'
    echo '    let ctx = toggles::Context::new();'
    echo '    let mut on = 0;'
    for i in $(seq 1 "$n"); do
      if [ "$2" = toggles ]; then
        echo "    on += usize::from(T$i.is_enabled(&ctx));"
      else
        echo "    on += usize::from(T$i.load(Ordering::Relaxed));"
      fi
    done
    echo '    let _ = &ctx;'
    echo '    println!("{on} on of {}", toggles::registry().len());'
    echo '}'
  } >"$dir/src/main.rs"
}

gen toggles_crate toggles
gen plain_crate plain

# The dependencies are built once and shared, and each crate is built once before it is timed,
# so each timing is the generated crate alone.
export CARGO_TARGET_DIR=$work/target
for c in plain_crate toggles_crate; do
  (cd "$work/$c" && cargo build --release -q && cargo check -q)
done

macros=$(cd "$root" && CARGO_TARGET_DIR=$work/macros-target seconds cargo build -p toggles-macros)
macros_release=$(cd "$root" && CARGO_TARGET_DIR=$work/macros-target seconds cargo build --release -p toggles-macros)

row() { # row CRATE: check and release build times, and binary size
  local dir=$work/$1
  touch "$dir/src/main.rs"
  local check; check=$(cd "$dir" && seconds cargo check)
  touch "$dir/src/main.rs"
  local release; release=$(cd "$dir" && seconds cargo build --release)
  local bin=$CARGO_TARGET_DIR/release/$1
  strip -o "$work/$1.stripped" "$bin"
  echo "$check $release $(stat -c %s "$bin") $(stat -c %s "$work/$1.stripped")"
}
read -r tc tr ts tss <<<"$(row toggles_crate)"
read -r pc pr ps pss <<<"$(row plain_crate)"
(cd "$work/toggles_crate" && "$CARGO_TARGET_DIR/release/toggles_crate") | grep -q "0 on of $n"

per=$(( (ts - ps) / n ))
per_stripped=$(( (tss - pss) / n ))
cat <<TABLE
| what | time / size |
|---|---|
| clean build of \`toggles-macros\` and its dependencies, debug | ${macros} s |
| clean build of \`toggles-macros\` and its dependencies, release | ${macros_release} s |
| \`cargo check\`, $n toggles | ${tc} s |
| \`cargo check\`, $n plain statics | ${pc} s |
| \`cargo build --release\`, $n toggles | ${tr} s |
| \`cargo build --release\`, $n plain statics | ${pr} s |
| release binary, $n toggles | ${ts} bytes |
| release binary, $n plain statics | ${ps} bytes |
| binary size per toggle | ${per} bytes |
| stripped release binary, $n toggles | ${tss} bytes |
| stripped release binary, $n plain statics | ${pss} bytes |
| stripped binary size per toggle | ${per_stripped} bytes |
TABLE
