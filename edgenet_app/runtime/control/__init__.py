"""runtime.control."""
