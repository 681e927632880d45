"""Which recording files a purge may delete (pure): only a file under its own tenant's folder of the
recordings root, whatever path the database row holds (a row is data, and data can be wrong or forged).
"""

from __future__ import annotations

from pathlib import Path


def confined(path: str, root: Path, tenant: str | None) -> Path | None:
    """The file to delete for a row, or None when its path leaves ``root/<tenant>/`` (after resolving
    '..' and symbolic links) or the row has no tenant."""
    if not tenant or "/" in tenant or tenant in (".", ".."):
        return None
    folder = (root / tenant).resolve()
    target = Path(path)
    if not target.is_absolute():
        target = root / target
    resolved = target.resolve()
    return resolved if resolved.is_relative_to(folder) and resolved != folder else None
