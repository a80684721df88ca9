"""Voice-of-customer pipeline: application layer (CLI, errors, shared value types)."""

__version__ = "0.1.0"
