"""``python -m groundstation``: the ``groundstation`` command (``groundstation.cli``)."""

import sys

from groundstation.cli import main

if __name__ == "__main__":
    sys.exit(main())
