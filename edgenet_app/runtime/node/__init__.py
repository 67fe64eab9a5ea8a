"""runtime.node."""
