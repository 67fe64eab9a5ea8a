"""runtime.store."""
