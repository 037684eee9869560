"""Black-box tests over real HTTP against `python -m scripts.local.run` (marked slow)."""
