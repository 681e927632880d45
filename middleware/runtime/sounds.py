"""Which prompt files Asterisk can play: looked up in the rootfs (or any Asterisk data dir)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from middleware.ivr.flow import PromptExists

FORMATS = ("gsm", "wav", "WAV", "wav49", "ulaw", "alaw", "sln", "sln16", "g722", "g729")
SOUND_DIRS = ("usr/share/asterisk/sounds", "var/lib/asterisk/sounds")


def _inside(root: Path, path: str) -> Path:
    """Resolve a path as the chroot sees it: absolute symlinks point inside root."""
    current = root
    for part in Path(path).parts[1:] if path.startswith("/") else Path(path).parts:
        candidate = current / part
        hops = 0
        while candidate.is_symlink() and hops < 10:
            target = os.readlink(candidate)
            candidate = _inside(root, target) if target.startswith("/") else (candidate.parent / target)
            hops += 1
        current = candidate
    return current


def prompt_checker(root: Path) -> PromptExists:
    """A PromptExists over the sound directories of the Asterisk installed at ``root``."""

    @lru_cache(maxsize=4096)
    def exists(prompt: str, language: str) -> bool:
        for base in SOUND_DIRS:
            for lang_dir in (language, language.split("_")[0]):
                folder = _inside(root, f"/{base}/{lang_dir}")
                if any((folder / f"{prompt}.{fmt}").is_file() for fmt in FORMATS):
                    return True
        return False

    return exists
