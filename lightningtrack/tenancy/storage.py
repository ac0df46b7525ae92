"""Where a region's workspace files (exports, backups) are written.

A workspace's database lives on its region's server; the files made from it must stay in
that region too. Every writer of workspace files asks ``region_dir`` for its folder, so
an operator who mounts EU storage for ``LT_REGION_STORAGE=eu=…`` has every EU file there.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lightningtrack.settings import REGIONS

if TYPE_CHECKING:
    from lightningtrack.settings import Settings


def region_dir(settings: Settings, region: str) -> Path:
    """The folder for ``region``'s workspace files: ``LT_REGION_STORAGE``'s entry, or
    ``$LT_DATA_DIR/regions/<region>``. Callers add their own subfolder and create it."""
    key = str(region).upper()
    configured = settings.region_storage.get(key)
    if configured is not None:
        return configured
    return settings.data_dir / "regions" / key.lower()


def region_dirs(settings: Settings) -> list[Path]:
    """The folders of every region, for sweeps that look through all of them."""
    return [region_dir(settings, region) for region in REGIONS]
