"""cmake_package: a static C++ library of this workspace as a CMake package in one tar.

The tar, rooted at the install prefix, holds
  lib/libfabric_runtime.a   every object of `deps` and of the workspace libraries they reach
  lib/libfabric_absl.a      Debian's abseil archives those libraries link (-l:libabsl_*.a)
  include/...               the workspace headers `deps` reach, and /usr/include/absl
  lib/cmake/FabricRuntime/  the package config (`config` and `config_version` templates)
Nothing in it names a path of the build machine: the config finds its prefix from its own
location. See doc/cmake.md.

Not hermetic: the abseil archives and headers are read from the system (/usr/lib, /usr/include),
as the rest of the build links them (third_party/system); a new libabsl-dev needs
`bazel clean` or an edit here to repackage.
"""

def _archive(lib):
    # The same objects as the link of a cc_binary would take; pic where both exist.
    return lib.pic_static_library or lib.static_library

def _cmake_package_impl(ctx):
    archives = []
    link_flags = []
    headers = []
    for dep in ctx.attr.deps:
        cc = dep[CcInfo]
        for li in cc.linking_context.linker_inputs.to_list():
            link_flags.extend(li.user_link_flags)
            for lib in li.libraries:
                a = _archive(lib)
                if a == None or a.owner.workspace_name != "":
                    continue
                if lib.alwayslink:
                    # A merged archive drops "link every object": it would need
                    # --whole-archive in the CMake config.
                    fail("%s is alwayslink: cmake_package does not carry that" % a.short_path)
                if a not in archives:
                    archives.append(a)
        for h in cc.compilation_context.headers.to_list():
            if h.owner.workspace_name != "":
                continue
            if any([h.short_path.startswith(p + "/") for p in ctx.attr.header_dirs]):
                if h not in headers:
                    headers.append(h)
    for a in archives:
        if "+" in a.path or " " in a.path:
            fail("%s: ar's MRI script cannot name it" % a.path)

    subs = {
        "@FABRIC_VERSION@": ctx.attr.version,
        "@TORCH_VERSION@": ctx.attr.torch_version,
        "@TORCH_CUDA@": ctx.attr.torch_cuda,
    }
    config = ctx.actions.declare_file(ctx.label.name + "/FabricRuntimeConfig.cmake.in")
    version = ctx.actions.declare_file(ctx.label.name + "/FabricRuntimeConfigVersion.cmake")
    ctx.actions.expand_template(template = ctx.file.config, output = config, substitutions = subs)
    ctx.actions.expand_template(
        template = ctx.file.config_version,
        output = version,
        substitutions = subs,
    )

    cc_toolchain = ctx.attr._cc_toolchain[cc_common.CcToolchainInfo]
    args = ctx.actions.args()
    args.add(ctx.outputs.out)
    args.add(cc_toolchain.ar_executable)
    args.add(config)
    args.add(version)
    args.add(str(len(archives)))
    args.add_all(archives)
    args.add(str(len(headers)))
    args.add_all([h.path for h in headers])
    args.add_all([h.short_path for h in headers])
    args.add_all(link_flags)
    ctx.actions.run(
        executable = ctx.executable._make_package,
        arguments = [args],
        inputs = depset(archives + headers + [config, version]),
        tools = cc_toolchain.all_files,
        outputs = [ctx.outputs.out],
        mnemonic = "CmakePackage",
        progress_message = "Packaging %s" % ctx.outputs.out.short_path,
    )
    return [DefaultInfo(
        files = depset([ctx.outputs.out]),
        runfiles = ctx.runfiles(files = [ctx.outputs.out]),
    )]

cmake_package = rule(
    implementation = _cmake_package_impl,
    attrs = {
        "deps": attr.label_list(providers = [CcInfo], mandatory = True),
        "header_dirs": attr.string_list(
            doc = "Workspace directories whose reached headers are installed under include/.",
            mandatory = True,
        ),
        "config": attr.label(allow_single_file = True, mandatory = True),
        "config_version": attr.label(allow_single_file = True, mandatory = True),
        "version": attr.string(mandatory = True),
        "torch_version": attr.string(mandatory = True),
        "torch_cuda": attr.string(doc = "The CUDA version of that LibTorch; empty: CPU-only."),
        "out": attr.output(mandatory = True),
        "_make_package": attr.label(
            default = "//packaging:make_package",
            executable = True,
            cfg = "exec",
        ),
        "_cc_toolchain": attr.label(default = "@bazel_tools//tools/cpp:current_cc_toolchain"),
    },
)
