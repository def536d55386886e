"""The software's version: one source of truth for ``groundstation --version``,
``GET /healthz``, the API's OpenAPI document and datasets' provenance.

The version is written once, statically, in ``pyproject.toml``
(``[project] version``); it is read back from the installed distribution's
metadata (``importlib.metadata``). The version reported is therefore the one
pip installed and shows (``pip show groundstation``, the wheel's name), and
packaging tools read it without running or parsing our code. An editable
install's metadata is refreshed when ``pyproject.toml`` changes (the
Makefile re-installs then).
"""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError, version

#: The distribution's name (``[project] name`` in pyproject.toml).
DISTRIBUTION = "groundstation"

#: Reported when the code runs without being installed (not a PEP 440 version).
NOT_INSTALLED = "unknown (not installed)"


@functools.cache
def package_version() -> str:
    """The installed distribution's version, e.g. ``"0.1.0"``: read once per
    process (the code it runs does not change under it). Reading it parses
    the distribution's METADATA file, about 0.5 ms of CPU: done per request
    it was most of ``GET /healthz``'s CPU (issue 17)."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return NOT_INSTALLED


def software_version() -> str:
    """``"groundstation 0.1.0"``: what the command prints and datasets record."""
    return f"{DISTRIBUTION} {package_version()}"
