#!/usr/bin/env bash
# Sets up the machine (tools/setup.sh) and runs every test. Used by the README and CI.
# Extra arguments go to `bazel test` (e.g. a narrower target pattern).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
if (($#)); then targets=("$@"); else targets=(//...); fi
bazel test "${targets[@]}" 2>&1 | tee "$log" || rc=${PIPESTATUS[0]}
if ((!$#)); then
  # The dependency direction of doc/ARCHITECTURE.md (tools/check_deps.sh).
  deps_rc=0
  bash tools/check_deps.sh 2>&1 | tee -a "$log" || deps_rc=${PIPESTATUS[0]}
  ((rc != 0)) || rc=$deps_rc
  # ... and that check fails on a planted violation (tools/check_deps_selftest.sh).
  deps_self_rc=0
  bash tools/check_deps_selftest.sh 2>&1 | tee -a "$log" || deps_self_rc=${PIPESTATUS[0]}
  ((rc != 0)) || rc=$deps_self_rc
  # Every tracked *.cc/*.h outside third_party/ as .clang-format says (tools/check_format.sh;
  # `bash tools/check_format.sh --fix` formats them).
  format_rc=0
  bash tools/check_format.sh 2>&1 | tee -a "$log" || format_rc=${PIPESTATUS[0]}
  ((rc != 0)) || rc=$format_rc
  # The C++ unit and in-process integration tests of the launcher, rendezvous, SLURM
  # planning and common code again under AddressSanitizer + UBSan (doc/build.md).
  asan_rc=0
  bazel test --config=asan --build_tests_only //common/... //launcher/... //rendezvous/... \
    //slurm/... 2>&1 | tee -a "$log" || asan_rc=${PIPESTATUS[0]}
  ((rc != 0)) || rc=$asan_rc
  # The same tests under ThreadSanitizer, with absl's synchronization built with TSan
  # (third_party/absl_tsan); the three tests that run gRPC's own threads are tagged
  # no_tsan (Debian's gRPC is not instrumented). tools/tsan's canary checks the build
  # sees absl::Mutex and still reports a real race.
  tsan_rc=0
  bazel test --config=tsan --build_tests_only --test_tag_filters=-no_tsan //common/... \
    //launcher/... //rendezvous/... //slurm/... //tools/tsan/... 2>&1 | tee -a "$log" ||
    tsan_rc=${PIPESTATUS[0]}
  ((rc != 0)) || rc=$tsan_rc
  # The libFuzzer targets, 20 s each on their corpora (clang; tools/fuzz.sh). Their
  # corpora were also replayed above by the *_fuzzer_corpus_test targets.
  fuzz_rc=0
  bash tools/fuzz.sh 20 2>&1 | tee -a "$log" || fuzz_rc=${PIPESTATUS[0]}
  ((rc != 0)) || rc=$fuzz_rc
fi
bazel shutdown >/dev/null 2>&1 || true
# One plain summary line, counted from Bazel's per-target results.
passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log" || true)
failed=$(grep -cE '^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|FLAKY|NO STATUS|FAILED TO BUILD)' "$log" || true)
skipped=$(grep -cE '^//[^ ]+ +SKIPPED' "$log" || true)
echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
exit $rc
