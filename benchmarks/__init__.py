"""The performance benchmark (see README.md)."""
