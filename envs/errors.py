"""The one exception type that reaches the user as a plain message."""
import sys
from typing import Callable


class DreamditError(Exception):
    """A problem with the user's input or files, not a bug.

    The command line prints its message on one line and exits with status 2,
    without a traceback.
    """


def run_command(main: Callable[[], None], prog: str, debug: bool = False) -> None:
    """Run a command's `main`; a DreamditError ends it with the one-line message and status 2 (with `debug`,
    its traceback)."""
    try:
        main()
    except DreamditError as err:
        if debug:
            raise
        print(f"{prog}: error: {err}", file=sys.stderr)
        sys.exit(2)
