"""Errors raised by the delivery layer; each message names the bad value."""

from __future__ import annotations


class IngestError(Exception):
    """Base class of every error raised by ``ingest``."""


class ContractError(IngestError, ValueError):
    """A message does not follow its topic contract (bad header, bad JSON field)."""


class SpoolError(IngestError):
    """The on-disk spool cannot be opened, is locked by another process, or is full."""


class ObjectNotFoundError(IngestError, KeyError):
    """No object under the requested key."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the sentence readable
        return str(self.args[0]) if self.args else "object not found"


class CorruptObjectError(IngestError):
    """An object's bytes do not match the SHA-256 recorded in its manifest."""


class DatasetError(IngestError):
    """A dataset is incomplete, not visible yet, or was written inconsistently."""


class PublishRefusedError(DatasetError):
    """The guard of a dataset's publication refused it (e.g. its contact failed)."""
