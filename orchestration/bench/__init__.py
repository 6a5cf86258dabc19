"""The benchmark harness (harness.py), its launcher (child.py), the synthetic corpus, the peers and
the growth report. This module holds only what the command line's start-up needs of it."""


class BenchBusy(RuntimeError):
    """Another bench runs on the server this one would use."""
