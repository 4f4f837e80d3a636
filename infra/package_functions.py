"""Package the Cloud Functions source: the root main.py (the functions-framework source
file), functions/, shared/ and requirements.txt, in one zip. Entries are sorted and carry
a fixed time and mode, so the same code always gives the same bytes: Terraform names the
uploaded object by its SHA-256 and redeploys the functions only when the code changed.

  python -m infra.package_functions [--out build/functions.zip]"""

from __future__ import annotations

import argparse
import hashlib
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "build" / "functions.zip"
INCLUDE = ("main.py", "requirements.txt", "functions", "shared")
SKIP_DIRS = {"__pycache__"}
SKIP_SUFFIXES = {".pyc", ".pyo"}
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def source_files(root: Path = ROOT) -> Iterator[tuple[str, Path]]:
    """(name in the archive, file) pairs, sorted by name."""
    found: dict[str, Path] = {}
    for entry in INCLUDE:
        path = root / entry
        if path.is_file():
            found[entry] = path
            continue
        if not path.is_dir():
            raise FileNotFoundError(f"{path} is missing: the functions need it")
        for file in path.rglob("*"):
            rel = file.relative_to(root)
            if (file.is_file() and not SKIP_DIRS.intersection(rel.parts)
                    and file.suffix not in SKIP_SUFFIXES):
                found[rel.as_posix()] = file
    yield from sorted(found.items())


def build(out: Path = DEFAULT_OUT, root: Path = ROOT) -> str:
    """Write the archive; return its SHA-256 (hex)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, file in source_files(root):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, file.read_bytes())
    tmp.replace(out)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    digest = build(args.out.resolve())
    print(f"{args.out} sha256={digest} bytes={args.out.stat().st_size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
