"""mua: a mail client that shows how your mail travels."""

# The one place the version is written: pyproject.toml reads it (dynamic version), and
# About, `mua --version` and the installers show it. A plain string costs nothing at
# start-up, unlike importlib.metadata (~20 ms).
__version__ = "0.1.0"
