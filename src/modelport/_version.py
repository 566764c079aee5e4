"""The installed version of modelport."""

__version__ = "0.1.0"
