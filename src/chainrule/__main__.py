"""``python -m chainrule`` runs the ``chainrule`` command."""

import sys

try:
    from .cli import run
except KeyboardInterrupt:  # Ctrl-C while the command is still loading: nothing has been done yet
    print("chainrule: interrupted (Ctrl-C)", file=sys.stderr)
    sys.exit(130)

run()
