"""A purge deletes only files under the row's own tenant folder of the recordings root."""

from __future__ import annotations

from pathlib import Path

from middleware.recordings.retention import confined


def test_only_a_file_inside_its_tenants_folder_may_be_deleted(tmp_path: Path) -> None:
    root = tmp_path / "monitor"
    (root / "acme").mkdir(parents=True)
    (root / "globex").mkdir()
    (tmp_path / "etc").mkdir()
    inside = root / "acme" / "1796.1.wav"
    assert confined(str(inside), root, "acme") == inside.resolve()
    assert confined("acme/1796.1.wav", root, "acme") == inside.resolve()  # relative to the root
    assert confined(str(root / "globex" / "x.wav"), root, "acme") is None  # another tenant's file
    assert confined(str(root / "acme" / ".." / ".." / "etc" / "passwd"), root, "acme") is None
    assert confined("/etc/passwd", root, "acme") is None
    assert confined(str(root / "acme"), root, "acme") is None  # the folder itself
    assert confined(str(inside), root, None) is None and confined(str(inside), root, "..") is None
    (root / "acme" / "link.wav").symlink_to(tmp_path / "etc")
    assert confined(str(root / "acme" / "link.wav"), root, "acme") is None  # a link out of the folder
