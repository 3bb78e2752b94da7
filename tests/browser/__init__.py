"""Browser tests: the widget in real Chromium."""
