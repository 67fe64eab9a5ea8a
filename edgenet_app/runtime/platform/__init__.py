"""runtime.platform."""
