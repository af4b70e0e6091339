"""The ``chainrule`` console script's first step: load the command with Ctrl-C handled.

A module of its own, outside the package: importing ``chainrule`` (NumPy and the rest) takes a few
tenths of a second, and a Ctrl-C in that time would otherwise end in Python's traceback.
"""

import sys


def main() -> None:
    """Import the command and run it; Ctrl-C while importing is one line and exit status 130."""
    try:
        from chainrule.cli import run
    except KeyboardInterrupt:
        print("chainrule: interrupted (Ctrl-C)", file=sys.stderr)
        sys.exit(130)
    run()
