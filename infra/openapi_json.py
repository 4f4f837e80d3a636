"""Write the API's OpenAPI document (what `GET /v1/openapi.json` answers) to a file, from
the code, with no server running: `python -m infra.openapi_json build/openapi.json`.

The web app's client types (web/src/api/schema.d.ts) are generated from this file by
openapi-typescript, so a change to the API that breaks a screen breaks the web build."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def document() -> dict:
    from functions.api.app import create_app  # noqa: F401 (registers every route)
    from functions.api.registry import api

    return api.openapi()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m infra.openapi_json OUT.json", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document(), indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
