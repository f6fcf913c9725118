#!/usr/bin/env bash
# Runs every fuzz target (or the TARGETS named) for SECONDS (default 15) each,
# starting from the committed seeds; a crash, a hang or a broken invariant fails the script and leaves the input
# in fuzz/artifacts/<target>/. Needs a nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly --profile minimal && cargo install cargo-fuzz --locked
#   bash fuzz/run.sh 600                  # ten minutes per target
#   bash fuzz/run.sh 600 parse_line       # one target
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-15}
shift || true
toolchain=${FUZZ_TOOLCHAIN:-nightly}
cargo "+$toolchain" fuzz build -O
mkdir -p logs
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(cargo "+$toolchain" fuzz list)
fi
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "seeds/$target"
    log="logs/$target.log"
    if ! cargo "+$toolchain" fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    echo "$target: $(grep -E '^Done' "$log")"
done
