#!/usr/bin/env bash
# The unit tests built with AddressSanitizer + UndefinedBehaviorSanitizer (LAYERWISE_SANITIZE=ON)
# into build-asan/, then run: any report fails the run. CI runs it after scripts/test.sh.
#
#   scripts/sanitize.sh            build, then the tests below
#   scripts/sanitize.sh FILTER     build, then the GoogleTest filter FILTER
#
# The default leaves out the tests that train real models for minutes through the CLI (under
# ASan 3-10x slower) or start Chromium: CrashConsistency.* (kill -9 and resume), the Cli tests of
# real runs, the report drawn in Chromium, Training.ShortRealRunLearns and the Distributed tests
# that train and read through CLI workers (several processes per test). What they exercise
# besides training is covered by the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
slow='CrashConsistency.*:Cli.TrainEvalSimilarityOnARealRun:Cli.ExitWritesCurvesCalibrationAndTiming'
slow+=':Cli.TextEncoderAndDecoderEndToEnd:Report.FromRealRunsDrawnInHeadlessChromium'
slow+=':Training.ShortRealRunLearns:ImageFolder.ExampleImagesTrainEvaluateAndReportThroughTheCli'
slow+=':DistributedTraining.*:DistributedEval.*:DistributedSimilarity.*'  # CLI worker processes
filter=${1:--$slow}

cmake -S . -B build-asan -G Ninja -DLAYERWISE_SANITIZE=ON -DLAYERWISE_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1 >/dev/null
cmake --build build-asan -j"$(nproc)" --target layerwise layerwise_tests

# LibTorch's own allocations that live until exit (thread pools, registries) are not ours.
suppressions=$(mktemp)
trap 'rm -f "$suppressions"' EXIT
printf 'leak:libtorch_cpu.so\nleak:libc10.so\nleak:libgomp.so\nleak:libopenblas\nleak:libgloo.so\n' >"$suppressions"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export LSAN_OPTIONS=suppressions=$suppressions
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# One shard of the tests per core; each shard's log is shown when it fails.
shards=$(nproc)
logs=$(mktemp -d)
trap 'rm -rf "$suppressions" "$logs"' EXIT
pids=()
for ((i = 0; i < shards; ++i)); do
  GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$i OMP_NUM_THREADS=1 \
    build-asan/tests/layerwise_tests --gtest_filter="$filter" --gtest_brief=1 >"$logs/$i" 2>&1 &
  pids+=($!)
done
failed=0
for ((i = 0; i < shards; ++i)); do
  if wait "${pids[$i]}"; then
    tail -3 "$logs/$i"
  else
    echo "sanitize.sh: shard $i of $shards failed:"
    cat "$logs/$i"
    failed=1
  fi
done
exit $failed
