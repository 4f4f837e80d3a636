"""What the chat history keeps of a message's content: JSON values only, bounded."""

from __future__ import annotations

from datetime import datetime

CONTENT_TEXT_LIMIT, CONTENT_LIST_LIMIT, CONTENT_DEPTH = 4096, 100, 6


def bounded_content(content, *, depth: int = 0):
    """A message's content as the chat history keeps it: JSON values only (no raw bytes),
    each text at most CONTENT_TEXT_LIMIT characters, each list at most CONTENT_LIST_LIMIT
    items, nested at most CONTENT_DEPTH levels."""
    if content is None or depth > CONTENT_DEPTH:
        return None
    if isinstance(content, dict):
        kept = {}
        for key, value in content.items():
            value = bounded_content(value, depth=depth + 1)
            if value is not None:
                kept[str(key)] = value
        return kept
    if isinstance(content, list | tuple):
        items = (bounded_content(v, depth=depth + 1) for v in content[:CONTENT_LIST_LIMIT])
        return [v for v in items if v is not None]
    if isinstance(content, str):
        return content[:CONTENT_TEXT_LIMIT]
    if isinstance(content, bool | int | float):
        return content
    if isinstance(content, datetime):
        return content.isoformat()
    return None  # bytes and anything else that is not JSON
