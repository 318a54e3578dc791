"""mua: a mail client that shows how your mail travels."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mua")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
