"""The `narrative` command: one process that runs the whole platform, and its parts."""
