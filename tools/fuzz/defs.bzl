"""fabric_fuzz_target: one fuzz target, two binaries.

  <name>_corpus_test: a cc_test (every compiler, every `bazel test //...`) that runs the
      target once on each file of `corpus` (tools/fuzz/replay_main.cc);
  <name>: the libFuzzer binary (clang only: `bazel build --config=fuzz`; tagged manual so
      that //... skips it). tools/fuzz.sh builds and runs them for a bounded time.

The target's source defines LLVMFuzzerTestOneInput and aborts on a broken invariant.
"""

def fabric_fuzz_target(name, srcs, deps, corpus):
    native.cc_test(
        name = name + "_corpus_test",
        size = "small",
        srcs = srcs + ["//tools/fuzz:replay_main.cc"],
        deps = deps,
        data = native.glob([corpus + "/**"]),
        args = [native.package_name() + "/" + corpus],
    )
    native.cc_binary(
        name = name,
        srcs = srcs,
        deps = deps,
        linkopts = ["-fsanitize=fuzzer"],
        testonly = True,
        tags = ["manual"],
    )
