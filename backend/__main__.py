"""``python -m margin``: the same as the ``margin`` command."""

import sys

from margin.cli import main

sys.exit(main())
