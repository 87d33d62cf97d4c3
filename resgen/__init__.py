"""resgen: a compiler for ResNet-family architectures (spec -> graph -> checks -> PyTorch)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("resgen")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
