"""Entry point: ``python scripts/emulator --host 127.0.0.1 --port N [--call-log FILE]``
(what scripts/emulator.sh runs), or ``python -m emulator ...`` with scripts/ on sys.path."""

import sys

# The launcher's modules are not compiled to __pycache__ inside scripts/.
sys.dont_write_bytecode = True

if not __package__:
    # Run as a directory (python scripts/emulator): sys.path[0] is this package's own directory;
    # put its parent there instead so that `emulator` imports as the package.
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    sys.path.insert(0, os.path.dirname(here))

from emulator.server import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
