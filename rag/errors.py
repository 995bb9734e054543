"""Errors a reader can act on: the CLIs print their message as one line and exit non-zero."""


class ShuWenError(Exception):
    """A user-facing failure; `str(err)` is a complete one-line explanation."""

    exit_code = 2


class BadInputError(ShuWenError):
    """The novel file (or another input) cannot be used."""


class StoreError(ShuWenError):
    """The store is missing, incompatible or unreachable."""

    exit_code = 3


def run_main(func, *args, interrupted: str = "interrupted") -> int:
    """Run a CLI body: a ShuWenError becomes one line on stderr and its exit code, Ctrl-C exits 130."""
    import sys

    try:
        return func(*args)
    except ShuWenError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return 130
