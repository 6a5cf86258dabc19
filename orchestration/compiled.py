"""The compiled modules: build them beside their sources, and load one only if it was built from
the source beside it.

`make` runs this after installing paperhouse (`python -m orchestration.compiled [SOURCE.pyx ...]`).
Each module compiles a hot loop whose Python version stays the rule and runs
where the module is not built, several times slower:

- `orchestration.keywords._phrases`: the keyphrase rule's counting and ranking (keywords/extract.py),
  and the features table's arrays of its result (keywords/copy_format.py);
- `orchestration.ingest._listings`: clean listing files read straight into COPY rows (ingest/load.py);
- `orchestration._search_documents`: search documents laid out from the server's parse of each
  piece of a text (search_documents.py); where it is not built, the server parses every text.

By hand rather than through the package's build backend: hatchling builds
no extension modules, and an editable install serves the source folder, so
the compiled module has to land there. The build runs in a scratch folder:
setuptools would otherwise read the project's pyproject.toml as its own
configuration. The module is renamed into place, so a process that has the
old one loaded keeps it, and two builds at once leave one whole module.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class CompiledModule:
    module: str  # the dotted name; its source is the .pyx beside where it lands
    purpose: str  # what it is, for messages
    compile_args: tuple[str, ...] = ()
    source: Path | None = None  # by default, from the module's name

    @property
    def source_path(self) -> Path:
        return self.source or PACKAGE_ROOT.joinpath(*self.module.split(".")).with_suffix(".pyx")

    def source_digest(self) -> str:
        """The sha256 of the source: the compiled module holds the one it was built from."""
        return hashlib.sha256(self.source_path.read_bytes()).hexdigest()


KEYPHRASE_COUNTER = CompiledModule(
    "orchestration.keywords._phrases",
    "the keyphrase counter",
    # no fused multiply-add: the scores must round as Python's, one operation at a time
    compile_args=("-ffp-contract=off",),
)
LISTING_READER = CompiledModule("orchestration.ingest._listings", "the listing reader")
SEARCH_DOCUMENTS = CompiledModule("orchestration._search_documents", "the search document layout")
MODULES = (KEYPHRASE_COUNTER, LISTING_READER, SEARCH_DOCUMENTS)


def load(compiled: CompiledModule) -> ModuleType | None:
    """The compiled module, or None where it is not built, or was built from another version of
    its source (a checkout updated without `make`): then the Python rule runs, with a warning,
    rather than a stale build."""
    try:
        module = importlib.import_module(compiled.module)
    except ImportError:
        return None
    built_from = getattr(module, "SOURCE_DIGEST", None)
    if compiled.source_path.exists() and built_from != compiled.source_digest():
        warnings.warn(
            f"{compiled.purpose} compiled here is older than its source "
            f"({compiled.source_path.name}): run `make bootstrap` to rebuild it; until then "
            "the slower Python rule runs",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return module


def build(compiled: CompiledModule) -> Path:
    """Build the extension module and return where it now lies."""
    # imported here: build tools, needed by this command alone
    from Cython.Build import cythonize
    from setuptools import Extension, setup

    source = compiled.source_path
    with tempfile.TemporaryDirectory(prefix="paperhouse-compiled-") as scratch:
        cwd = os.getcwd()
        os.chdir(scratch)
        try:
            setup(
                name="paperhouse-compiled",
                ext_modules=cythonize(
                    [
                        Extension(
                            compiled.module,
                            [str(source)],
                            extra_compile_args=list(compiled.compile_args),
                            # the module carries its source's digest: no stale build runs
                            define_macros=[
                                ("PAPERHOUSE_SOURCE_DIGEST", f'"{compiled.source_digest()}"')
                            ],
                        )
                    ],
                    build_dir=scratch,
                    quiet=True,
                ),
                script_args=["--quiet", "build_ext", "--build-lib", scratch],
            )
        except SystemExit as failed:  # how setuptools reports a failed build
            raise SystemExit(
                f"could not compile {compiled.purpose} ({failed}): it needs a C compiler "
                "and Python's headers (Debian: apt-get install gcc python3-dev)"
            ) from failed
        finally:
            os.chdir(cwd)
        built = next(Path(scratch).rglob(f"{source.stem}*.so"))
        target = source.parent / built.name
        # copied beside the target first: the scratch folder may be on another file
        # system, and only a rename within one is atomic
        handle, staged = tempfile.mkstemp(dir=source.parent, prefix=".compiling-", suffix=".so")
        os.close(handle)
        try:
            shutil.copy2(built, staged)  # with the mode the linker gave it
            os.replace(staged, target)
        except BaseException:
            Path(staged).unlink(missing_ok=True)
            raise
    return target


def main(sources: list[str]) -> None:
    """Build the modules of `sources` (their .pyx paths, as make names them), or all of them."""
    wanted = {Path(source).resolve() for source in sources}
    for compiled in MODULES:
        if not wanted or compiled.source_path in wanted:
            print(f"compiled {build(compiled)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
