"""Link-only wrappers for the system (Debian) libraries the project builds against.

Everything comes from Debian's packages: headers in /usr/include (a builtin include
directory of the gcc toolchain), libraries found through pkg-config so that the link
lines follow the installed versions.
"""

_ABSL_MODULES = [
    "absl_status",
    "absl_statusor",
    "absl_strings",
    "absl_str_format",
    "absl_time",
    "absl_synchronization",
    "absl_flat_hash_map",
    "absl_flat_hash_set",
    "absl_random_random",
    "absl_hash",
]

def _pkg_config_libs(rctx, modules):
    pc = rctx.which("pkg-config")
    if pc == None:
        fail("pkg-config not found: apt-get install pkg-config")
    r = rctx.execute([pc, "--libs"] + modules)
    if r.return_code != 0:
        fail("pkg-config --libs %s failed: %s" % (" ".join(modules), r.stderr))
    return [f for f in r.stdout.strip().split(" ") if f]

def _quote(flags):
    return "[" + ", ".join(['"%s"' % f for f in flags]) + "]"

def _system_libs_impl(rctx):
    absl = _pkg_config_libs(rctx, _ABSL_MODULES)
    grpc = _pkg_config_libs(rctx, ["grpc++", "protobuf"])
    cuda_home = rctx.os.environ.get("CUDA_HOME", "/usr/local/cuda")
    has_nccl = rctx.path(cuda_home + "/include/nccl.h").exists
    if has_nccl:
        rctx.symlink(cuda_home, "cuda")
    rctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])

cc_library(name = "absl", linkopts = {absl} + ["-pthread"])

cc_library(name = "grpc", linkopts = {grpc} + ["-pthread"])

cc_library(name = "gtest", linkopts = ["-lgtest", "-pthread"], testonly = True)

cc_library(name = "gtest_main", linkopts = ["-lgtest_main", "-lgtest", "-pthread"], testonly = True)

cc_library(name = "gmock", linkopts = ["-lgmock", "-lgtest", "-pthread"], testonly = True)

cc_library(name = "gmock_main", linkopts = ["-lgmock_main", "-lgmock", "-lgtest", "-pthread"], testonly = True)

cc_library(
    name = "torch",
    defines = ["USE_C10D_GLOO"],
    linkopts = ["-Wl,--no-as-needed", "-ltorch", "-ltorch_cpu", "-lc10", "-Wl,--as-needed", "-pthread"],
    deps = ["@torch_api//:headers"],
)

{nccl}
""".format(
        absl = _quote(absl),
        grpc = _quote(grpc),
        nccl = _NCCL_BUILD.format(cuda = cuda_home) if has_nccl else _NO_NCCL_BUILD,
    ))
    rctx.file("defs.bzl", "HAS_NCCL = %s\n" % ("True" if has_nccl else "False"))

_NCCL_BUILD = """
# CUDA + NCCL found under $CUDA_HOME: the NCCL targets build.
cc_library(
    name = "nccl",
    hdrs = glob(["cuda/include/**"]),
    includes = ["cuda/include"],
    linkopts = ["-L{cuda}/lib64", "-Wl,-rpath,{cuda}/lib64", "-lnccl", "-lcudart"],
)
"""

_NO_NCCL_BUILD = """
# No CUDA/NCCL on this machine: NCCL targets are incompatible and skipped by //... .
cc_library(
    name = "nccl",
    target_compatible_with = ["@platforms//:incompatible"],
)
"""

system_libs = repository_rule(
    implementation = _system_libs_impl,
    environ = ["CUDA_HOME", "PKG_CONFIG_PATH"],
    local = True,
)
