"""``python -m edge_middleware``: the same as the ``edge-middleware`` command."""

import sys

from .devtools.cli import main

if __name__ == "__main__":
    sys.exit(main())
