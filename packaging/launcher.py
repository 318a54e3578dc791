"""The frozen app's entry point: the same `main` as the installed `mua` script."""

import sys

from mua.cli import main

if __name__ == "__main__":
    if sys.argv[1:] == ["--msa-process"]:  # `mua stack`'s MSAs (mua/stack/msa_process.py)
        from mua.stack.msa_process import main as msa_process

        sys.exit(msa_process())
    sys.exit(main())
