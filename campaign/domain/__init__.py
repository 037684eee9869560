"""Plain-Python domain rules: no AWS, no web imports."""
