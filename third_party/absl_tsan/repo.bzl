"""@absl_sync_src: absl's sources from Debian's source package of the installed libabsl-dev.

tools/setup.sh unpacks them once with `apt-get source abseil=<version>` (checked against the
signed archive's Sources index, Debian's patches applied) into SRC_DIR, deletes their headers
and writes the Debian source version to SRC_DIR/VERSION. This rule downloads nothing: it
refuses a missing directory, or one whose VERSION is not the source version of the
libabsl-dev installed now (the objects must match the headers and archives they join), and
symlinks its absl/ under the build file //third_party/absl_tsan:BUILD.absl_sync.
Used under --config=tsan only (doc/build.md "Sanitizers").
"""

SRC_DIR = "/usr/local/src/fabric-run/abseil"

def _absl_sync_source_impl(rctx):
    src = rctx.path(SRC_DIR)
    fix = "run `bash tools/setup.sh`"
    if not src.get_child("VERSION").exists:
        fail("absl sources for --config=tsan: %s/VERSION is missing: %s" % (SRC_DIR, fix))
    have = rctx.read(src.get_child("VERSION")).strip()
    q = rctx.execute(["dpkg-query", "-W", "-f=${source:Version}", "libabsl-dev"])
    if q.return_code != 0:
        fail("absl sources for --config=tsan: dpkg-query libabsl-dev failed: %s" % q.stderr)
    want = q.stdout.strip()
    if have != want:
        fail("absl sources for --config=tsan: %s holds abseil %s, libabsl-dev is %s: %s" %
             (SRC_DIR, have, want, fix))
    rctx.symlink(src.get_child("absl"), "absl")
    rctx.symlink(rctx.attr.build_file, "BUILD.bazel")
    rctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % rctx.name)

absl_sync_source = repository_rule(
    implementation = _absl_sync_source_impl,
    attrs = {"build_file": attr.label(allow_single_file = True)},
    local = True,
)
