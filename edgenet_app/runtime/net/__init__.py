"""runtime.net."""
