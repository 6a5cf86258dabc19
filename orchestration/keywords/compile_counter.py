"""Compile the keyphrase counter (_phrases.pyx) into an extension module beside it.

`make` runs this after installing paperhouse (`python -m
orchestration.keywords.compile_counter`); without it, `extract` runs the same
rule in Python, several times slower.

By hand rather than through the package's build backend: hatchling builds
no extension modules, and an editable install serves the source folder, so
the compiled module has to land there. The build runs in a scratch folder:
setuptools would otherwise read the project's pyproject.toml as its own
configuration. The module is renamed into place, so a process that has the
old one loaded keeps it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "_phrases.pyx"
MODULE = "orchestration.keywords._phrases"
# No fused multiply-add: the scores must round as Python's, one operation at a time.
FLOAT_AS_WRITTEN = ["-ffp-contract=off"]


def compile_counter() -> Path:
    """Build the extension module and return where it now lies."""
    # imported here: build tools, needed by this command alone
    from Cython.Build import cythonize
    from setuptools import Extension, setup

    with tempfile.TemporaryDirectory(prefix="paperhouse-counter-") as scratch:
        cwd = os.getcwd()
        os.chdir(scratch)
        try:
            setup(
                name="paperhouse-counter",
                ext_modules=cythonize(
                    [Extension(MODULE, [str(SOURCE)], extra_compile_args=FLOAT_AS_WRITTEN)],
                    build_dir=scratch,
                    quiet=True,
                ),
                script_args=["--quiet", "build_ext", "--build-lib", scratch],
            )
        finally:
            os.chdir(cwd)
        built = next(Path(scratch).rglob("_phrases*.so"))
        target = HERE / built.name
        os.replace(built, target)
    return target


if __name__ == "__main__":
    print(f"compiled {compile_counter().relative_to(Path.cwd())}", file=sys.stderr)
