#!/usr/bin/env bash
# Builds the libFuzzer targets (clang++-14, AddressSanitizer + UndefinedBehaviorSanitizer) into
# build-fuzz/ and runs each for a bounded time, starting from its seed corpus in fuzz/corpus/<name>/.
# scripts/test.sh runs it when clang++-14 is installed. Exits non-zero when any target crashes,
# leaks, hangs or breaks a property; the input is kept in build-fuzz/crashes/<target>/ and printed.
#
#   fuzz/run.sh                  build, then run every target for 20 s
#   fuzz/run.sh --time=300 fuzz_rule_file     a longer run of one target
#   build-fuzz/bin/fuzz_rule_file build-fuzz/crashes/fuzz_rule_file/crash-...   reproduce one input
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=20
only=()
for arg in "$@"; do
  case "$arg" in
    --time=*) seconds="${arg#*=}" ;;
    fuzz_*) only+=("$arg") ;;
    *) echo "fuzz/run.sh: unknown option '$arg' (see the comment at the top of this file)" >&2; exit 2 ;;
  esac
done
for tool in clang-14 clang++-14; do
  command -v "$tool" >/dev/null || { echo "fuzz/run.sh: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done

build=build-fuzz
if [[ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]]; then export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer; fi
# Stop at the first problem of any kind; print the UBSan stack too.
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
start=$SECONDS
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DPBR_FUZZ=ON >/dev/null
echo "fuzz: building the fuzz targets into $build/ ..."
cmake --build "$build" -j "$(nproc)" --target fuzzers >"$build/fuzz-build.log" 2>&1 ||
  { tail -40 "$build/fuzz-build.log"; echo "fuzz: the build failed; log: $build/fuzz-build.log" >&2; exit 1; }
echo "fuzz: built in $((SECONDS - start)) s"

mapfile -t targets < <(grep . "$build/fuzz_targets.txt")
if ((${#only[@]})); then targets=("${only[@]}"); fi
failed=()
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  seeds="fuzz/corpus/$name"
  work="$build/corpus/$t"      # what this run learns; the committed seeds are only read
  crashes="$build/crashes/$t"
  log="$build/logs/$t.log"
  mkdir -p "$work" "$crashes" "$build/logs"
  [[ -d $seeds ]] || { echo "fuzz: $t has no seed corpus $seeds" >&2; failed+=("$t"); continue; }
  find "$crashes" -type f | sort >"$build/logs/$t.before"
  rc=0
  "$build/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "$work" "$seeds" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  if ((rc == 0)); then
    echo "fuzz: $t ok: ${runs:-?} inputs in ${seconds} s, ${cov:-cov: ?}"
    continue
  fi
  failed+=("$t")
  echo "fuzz: $t FAILED (exit $rc); log: $log" >&2
  grep -E "^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*property broken|.*Test unit written)" "$log" | head -20 >&2 || true
  while read -r input; do
    echo "fuzz: input kept in $input ($(stat -c %s "$input") bytes); reproduce: $build/bin/$t $input" >&2
    echo "fuzz: the input (first 4 KiB), base64:" >&2
    head -c 4096 "$input" | base64 -w 100 >&2
  done < <(find "$crashes" -type f | sort | comm -13 "$build/logs/$t.before" -)
done
if ((${#failed[@]})); then
  echo "fuzz: ${#failed[@]} of ${#targets[@]} targets failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds} s each without a crash ($((SECONDS - start)) s in all)"
