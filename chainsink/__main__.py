"""``python -m chainsink``: the ``chainsink`` command."""

import sys

from chainsink.cli import main

if __name__ == "__main__":
    sys.exit(main())
