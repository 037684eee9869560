"""Black-box tests over real HTTP against `python -m campaign.local.run` (marked slow)."""
