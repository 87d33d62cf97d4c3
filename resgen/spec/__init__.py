"""The spec language: models, position-keeping parsers and the loader."""

from resgen.spec.load import LoadedSpec, load_spec_file, resolve_spec_path
from resgen.spec.model import Spec

__all__ = ["LoadedSpec", "Spec", "load_spec_file", "resolve_spec_path"]
