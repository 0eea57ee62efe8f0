"""``python -m kdbench`` (and ``torchrun -m kdbench``): the command line."""

import sys

from kdbench.cli import main

if __name__ == "__main__":
    sys.exit(main())
