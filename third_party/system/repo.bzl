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

# Libraries linked from their static archives, so that fabric-run's start-up does not pay
# the dynamic loader for ~50 shared objects (absl alone is 46): measured in bench/. zlib
# (gRPC's) and OpenSSL (gRPC's TLS, rendezvous/tls.h) too, so the binaries need only libc
# and libm (tests/portability_test.sh).
_STATIC_PREFIXES = ["absl_", "grpc", "gpr", "upb", "re2", "cares", "address_sorting", "protobuf",
                    "ssl", "crypto"]
_LIB_DIRS = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"]

def _prefer_static(rctx, flags):
    out = []
    for f in flags:
        if f.startswith("-l") and not f.startswith("-l:"):
            name = f[2:]
            if name == "z" or any([name.startswith(p) for p in _STATIC_PREFIXES]):
                if any([rctx.path("%s/lib%s.a" % (d, name)).exists for d in _LIB_DIRS]):
                    f = "-l:lib%s.a" % name
        out.append(f)
    return out

def _static_libs(rctx, modules, extra = []):
    # --static lists the private dependencies too; archives resolve in a group.
    # `extra`: dependencies Debian's .pc files omit (grpc.pc lacks upb, re2...).
    flags = _prefer_static(rctx, _pkg_config_libs(rctx, ["--static"] + modules) + extra)
    return ["-Wl,--start-group"] + flags + ["-Wl,--end-group"]

def _quote(flags):
    return "[" + ", ".join(['"%s"' % f for f in flags]) + "]"

def _system_libs_impl(rctx):
    absl = _static_libs(rctx, _ABSL_MODULES)
    grpc = _static_libs(
        rctx,
        ["grpc++", "protobuf"],
        extra = ["-lupb", "-lre2", "-lcares", "-laddress_sorting", "-lz"],
    )
    if not rctx.path("/usr/include/ncurses.h").exists:
        fail("/usr/include/ncurses.h not found: apt-get install libncurses-dev " +
             "(tools/setup.sh installs it)")
    if not rctx.path("/usr/include/nlohmann/json.hpp").exists:
        fail("/usr/include/nlohmann/json.hpp not found: apt-get install nlohmann-json3-dev " +
             "(tools/setup.sh installs it)")
    rctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])

# --config=tsan: absl's synchronization objects built with ThreadSanitizer come first
# (third_party/absl_tsan), so TSan sees absl::Mutex; Debian's archives supply the rest.
config_setting(name = "tsan", define_values = {{"fabric_tsan": "1"}})

cc_library(
    name = "absl",
    linkopts = {absl} + ["-pthread"],
    deps = select({{
        ":tsan": [
            "@absl_sync_src//:synchronization",
            "@//third_party/absl_tsan:tsan_suppressions",
        ],
        "//conditions:default": [],
    }}),
)

cc_library(name = "grpc", linkopts = {grpc} + ["-pthread"])

# Header-only (/usr/include/nlohmann, Debian's nlohmann-json3-dev): JSON for the event log.
cc_library(name = "nlohmann_json")

# Debian's libncurses-dev, linked statically (fabric-run top; the binary keeps needing only
# libc and libm); the terminfo database is read at run time from the usual places.
cc_library(name = "ncurses", linkopts = ["-l:libncursesw.a", "-l:libtinfo.a"])

cc_library(name = "gtest", linkopts = ["-lgtest", "-pthread"], testonly = True)

cc_library(name = "gtest_main", linkopts = ["-lgtest_main", "-lgtest", "-pthread"], testonly = True)

cc_library(name = "gmock", linkopts = ["-lgmock", "-lgtest", "-pthread"], testonly = True)

cc_library(name = "gmock_main", linkopts = ["-lgmock_main", "-lgmock", "-lgtest", "-pthread"], testonly = True)

""".format(
        absl = _quote(absl),
        grpc = _quote(grpc),
    ))

system_libs = repository_rule(
    implementation = _system_libs_impl,
    environ = ["PKG_CONFIG_PATH"],
    local = True,
)
