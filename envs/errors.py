"""The one exception type that reaches the user as a plain message."""


class DreamditError(Exception):
    """A problem with the user's input or files, not a bug.

    The command line prints its message on one line and exits with status 2,
    without a traceback.
    """
