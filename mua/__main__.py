import sys

from mua.cli import main

sys.exit(main())
