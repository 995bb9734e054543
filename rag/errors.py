"""Errors a reader can act on: the CLIs print their message as one line and exit non-zero."""


class ShuWenError(Exception):
    """A user-facing failure; `str(err)` is a complete one-line explanation."""

    exit_code = 2


class BadInputError(ShuWenError):
    """The novel file (or another input) cannot be used."""


class StoreError(ShuWenError):
    """The store is missing, incompatible or unreachable."""

    exit_code = 3
