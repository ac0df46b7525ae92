"""Scenario (f): one export job of the large workspace, in a process of its own, reporting
its time and its peak memory growth as JSON on stdout."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import uuid

from lightningtrack.models.landlord import DataExport, DataExportKind, Workspace
from lightningtrack.resolvers import exports
from lightningtrack.settings import load_settings
from lightningtrack.tenancy.runtime import Tenancy


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main(slug: str) -> dict[str, float]:
    settings = load_settings()
    tenancy = Tenancy(settings)
    await tenancy.start(migrate=False, janitor=False)
    try:
        workspace = await Workspace.get(slug=slug)
        export = await DataExport.create(
            id=uuid.uuid4(), kind=DataExportKind.WORKSPACE, workspace=workspace
        )
        before = _rss_mb()
        started = time.perf_counter()
        await exports.build(settings, tenancy, export.id)
        seconds = time.perf_counter() - started
        await export.refresh_from_db()
        size = exports.archive_path(settings, export).stat().st_size
        return {
            "seconds": seconds,
            "peak_rss_growth_mb": _rss_mb() - before,
            "archive_mb": size / 1e6,
        }
    finally:
        await tenancy.stop()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
