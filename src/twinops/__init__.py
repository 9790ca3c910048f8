"""twinops: build, run and trust digital twins."""

__version__ = "0.1.0"
