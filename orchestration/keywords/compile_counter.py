"""Compile the keyphrase counter (_phrases.pyx) into an extension module beside it, and
load it only if it was compiled from the source beside it.

`make` runs this after installing paperhouse (`python -m
orchestration.keywords.compile_counter`); without it, `extract` runs the same
rule in Python, several times slower.

By hand rather than through the package's build backend: hatchling builds
no extension modules, and an editable install serves the source folder, so
the compiled module has to land there. The build runs in a scratch folder:
setuptools would otherwise read the project's pyproject.toml as its own
configuration. The module is renamed into place, so a process that has the
old one loaded keeps it, and two builds at once leave one whole module.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "_phrases.pyx"
MODULE = "orchestration.keywords._phrases"
# No fused multiply-add: the scores must round as Python's, one operation at a time.
FLOAT_AS_WRITTEN = ["-ffp-contract=off"]


def source_digest() -> str:
    """The sha256 of _phrases.pyx: the compiled module holds the one it was built from."""
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()


def compiled_counter() -> ModuleType | None:
    """The compiled module, or None where it is not built, or was built from another
    version of _phrases.pyx (a checkout updated without `make`): then the Python rule runs,
    with a warning, rather than a stale build."""
    try:
        from orchestration.keywords import _phrases
    except ImportError:
        return None
    built_from = getattr(_phrases, "SOURCE_DIGEST", None)
    if SOURCE.exists() and built_from != source_digest():
        warnings.warn(
            "the compiled keyphrase counter is older than orchestration/keywords/_phrases.pyx: "
            "run `make bootstrap` to rebuild it; until then the slower Python rule runs",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return _phrases


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
                    [
                        Extension(
                            MODULE,
                            [str(SOURCE)],
                            extra_compile_args=FLOAT_AS_WRITTEN,
                            # the module carries its source's digest: extract runs no stale build
                            define_macros=[("PAPERHOUSE_SOURCE_DIGEST", f'"{source_digest()}"')],
                        )
                    ],
                    build_dir=scratch,
                    quiet=True,
                ),
                script_args=["--quiet", "build_ext", "--build-lib", scratch],
            )
        except SystemExit as failed:  # how setuptools reports a failed build
            raise SystemExit(
                f"could not compile the keyphrase counter ({failed}): it needs a C compiler "
                "and Python's headers (Debian: apt-get install gcc python3-dev)"
            ) from failed
        finally:
            os.chdir(cwd)
        built = next(Path(scratch).rglob("_phrases*.so"))
        target = HERE / built.name
        # copied beside the target first: the scratch folder may be on another file
        # system, and only a rename within one is atomic
        handle, staged = tempfile.mkstemp(dir=HERE, prefix=".compiling-", suffix=".so")
        os.close(handle)
        try:
            shutil.copy2(built, staged)  # with the mode the linker gave it
            os.replace(staged, target)
        except BaseException:
            Path(staged).unlink(missing_ok=True)
            raise
    return target


if __name__ == "__main__":
    print(f"compiled {compile_counter()}", file=sys.stderr)
