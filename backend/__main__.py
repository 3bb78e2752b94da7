"""``python -m margin``: the same as the ``margin`` command."""

import sys

from margin.cli import main

if __name__ == "__main__":
    sys.exit(main())
