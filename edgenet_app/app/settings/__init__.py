"""app.settings."""
