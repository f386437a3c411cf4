"""@torch: LibTorch from the PyTorch wheel in the repository's .venv (made by tools/setup.sh).

The repository rule asks .venv/bin/python where torch lives, so no absolute path is written
down; it refuses any version but the one the project pins (TORCH_WANTED) and a wheel built
without the C++11 ABI (Debian's abseil, gRPC and protobuf use it). Every binary that links
LibTorch gets an rpath to the wheel's lib/ (DT_RUNPATH: LD_LIBRARY_PATH still wins, which is
how a binary built here runs against another machine's torch/lib of the same version).

Targets:
  :torch        LibTorch's CPU and CUDA libraries (libtorch_cuda registers the CUDA kernels;
                on a machine without a GPU it loads and CPU work runs), C++ API headers.
  :cuda_headers CUDA runtime and NCCL headers from the wheel's own nvidia-* packages (the exact
                versions LibTorch was built with), for the few files that include
                ProcessGroupNCCL.hpp or ATen/cuda.
  :gloo         for the one file that constructs c10d::ProcessGroupGloo (gloo headers: the
                wheel ships none; Debian's libgloo-dev).
defs.bzl: TORCH_VERSION, TORCH_WANTED (major.minor), VENV_PYTHON (absolute), VENV_BIN (absolute) for tests and tools.
"""

TORCH_WANTED = "2.11"

_PROBE = """
import json, os, sys
try:
    import torch
except Exception as e:
    print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
    sys.exit(0)
root = os.path.dirname(torch.__file__)
site = os.path.dirname(root)
print(json.dumps({
    "version": torch.__version__,
    "root": root,
    "site": site,
    "abi": bool(torch.compiled_with_cxx11_abi()),
    "cuda": torch.version.cuda or "",
}))
"""

def _fail(msg):
    fail("\n\nfabric-run build: %s\n" % msg)

def _torch_impl(rctx):
    workspace = rctx.path(Label("//:WORKSPACE")).dirname
    python = workspace.get_child(".venv").get_child("bin").get_child("python")
    if not python.exists:
        _fail("LibTorch is taken from the PyTorch wheel in %s, which does not exist: run `bash tools/setup.sh`" % python)
    r = rctx.execute([python, "-c", _PROBE], environment = {"PYTHONNOUSERSITE": "1"})
    if r.return_code != 0:
        _fail("%s does not run (%s): run `bash tools/setup.sh` to recreate .venv" % (python, r.stderr.strip()))
    info = json.decode(r.stdout.strip().splitlines()[-1])
    if "error" in info:
        _fail("%s cannot import torch (%s): run `bash tools/setup.sh`" % (python, info["error"]))
    version = info["version"]
    if not (version == TORCH_WANTED or version.startswith(TORCH_WANTED + ".")):
        _fail("LibTorch %s wanted, found torch %s in .venv: run `bash tools/setup.sh` (it installs torch==%s.0)" % (TORCH_WANTED, version, TORCH_WANTED))
    if not info["abi"]:
        _fail("torch %s in .venv was built without the C++11 ABI (torch.compiled_with_cxx11_abi() is False); the project's C++ libraries use it: reinstall torch==%s.0 from PyPI with tools/setup.sh" % (version, TORCH_WANTED))
    root = info["root"]
    site = info["site"]
    rctx.symlink(root + "/include", "include")
    rctx.symlink(root + "/lib", "lib")
    lib = root + "/lib"
    has_cuda = info["cuda"] != "" and rctx.path(lib + "/libtorch_cuda.so").exists
    nvidia = site + "/nvidia"
    if has_cuda:
        rctx.symlink(nvidia + "/cu13/include", "cuda_include")
        rctx.symlink(nvidia + "/nccl/include", "nccl_include")
    else:
        rctx.file("cuda_include/.none", "")
        rctx.file("nccl_include/.none", "")
    cuda_libs = ["-ltorch_cuda", "-lc10_cuda"] if has_cuda else []
    rctx.file("BUILD.bazel", _BUILD.format(
        lib = lib,
        cuda_libs = repr(cuda_libs),
        cuda_defines = repr(["FABRIC_HAS_CUDA_LIBTORCH"] if has_cuda else []),
    ))
    rctx.file("defs.bzl", "\n".join([
        "TORCH_VERSION = %r" % version,
        "TORCH_WANTED = %r" % TORCH_WANTED,
        "TORCH_CUDA = %r" % info["cuda"],
        "VENV_PYTHON = %r" % str(python),
        "VENV_BIN = %r" % str(python.dirname),
        "",
    ]))

_BUILD = """
package(default_visibility = ["//visibility:public"])

cc_library(
    name = "headers",
    hdrs = glob(["include/**"]),
    includes = ["include", "include/torch/csrc/api/include"],
)

cc_library(
    name = "torch",
    defines = {cuda_defines},
    linkopts = [
        "-L{lib}",
        "-Wl,-rpath,{lib}",
        "-Wl,--no-as-needed",
        "-ltorch",
        "-ltorch_cpu",
        "-lc10",
    ] + {cuda_libs} + [
        "-Wl,--as-needed",
        "-pthread",
    ],
    deps = [":headers"],
)

cc_library(
    name = "cuda_headers",
    hdrs = glob(["cuda_include/**", "nccl_include/**"]),
    includes = ["cuda_include", "nccl_include"],
    defines = ["USE_C10D_NCCL"],
    deps = [":torch"],
)

# Gloo's headers come from Debian's libgloo-dev (/usr/include/gloo, a builtin include
# directory); the one file that includes ProcessGroupGloo.hpp sets
# local_defines = ["USE_C10D_GLOO"]. Only opaque gloo types cross that header (shared_ptr
# to transport::Device), so a gloo of another date than the wheel's own is safe there.
cc_library(
    name = "gloo",
    deps = [":torch"],
)
"""

torch_repository = repository_rule(
    implementation = _torch_impl,
    local = True,
)
