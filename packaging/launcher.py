"""The frozen app's entry point: the same `main` as the installed `mua` script."""

import sys

from mua.cli import main

if __name__ == "__main__":
    sys.exit(main())
