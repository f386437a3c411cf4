"""The one place of fabric-run's version: the binaries' --version, the wheel and the CMake package."""

FABRIC_VERSION = "0.1.0"
