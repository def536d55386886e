"""Code the bench scripts share that has no topic module of its own."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def load_bench_api() -> ModuleType:
    """bench/api.py (its world, its server start and its /proc CPU reading),
    loaded by path as ``bench_api``: run as a script, bench/ comes first on
    ``sys.path``, where the name ``api`` would be that file rather than the
    project's package. Loaded once; later calls return the same module."""
    if (loaded := sys.modules.get("bench_api")) is not None:
        return loaded
    spec = importlib.util.spec_from_file_location("bench_api", ROOT / "bench" / "api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_api"] = module
    spec.loader.exec_module(module)
    return module
