"""Reading what the Powertools logger wrote: one JSON document per line."""

import json
from typing import Any


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]
