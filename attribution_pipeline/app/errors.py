"""How the command line ends: its exit codes and its one-line error messages."""

import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"attribution: error: {message}", file=sys.stderr)
    return code


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
