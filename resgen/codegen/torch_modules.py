"""Top-level modules of torch and its dependencies: generated, do not edit.

Rewritten from the installed metadata by:
    RESGEN_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_untrusted_names.py
"""

TORCH_MODULES = frozenset(
    {
        "_distutils_hack",
        "cuda",
        "filelock",
        "fsspec",
        "functorch",
        "isympy",
        "jinja2",
        "markupsafe",
        "mpmath",
        "networkx",
        "nvidia",
        "setuptools",
        "sympy",
        "torch",
        "torchgen",
        "triton",
        "typing_extensions",
    }
)
