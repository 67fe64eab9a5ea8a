"""runtime.work."""
