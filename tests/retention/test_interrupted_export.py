"""An export whose worker was killed half-way: found again by the sweep, finished once."""

from __future__ import annotations

import io
import json
import os
import time
import uuid
import zipfile
from datetime import timedelta

from lightningtrack import clock
from lightningtrack.models.landlord import DataExport, DataExportKind, JobStatus, Workspace
from lightningtrack.resolvers import exports, ids
from lightningtrack.settings import Settings
from tests.conftest import Client
from tests.retention.conftest import Sweep


async def test_an_export_killed_half_way_is_finished_by_the_sweep_and_never_offered_half(
    settings: Settings, owner: Client, sweep: Sweep
) -> None:
    """What a killed worker leaves (a RUNNING row, a half-written file aside) is never
    downloadable; the sweep restarts the job, which writes one complete archive, and the
    abandoned half is deleted a day later."""
    workspace = await Workspace.get(slug=owner.workspace)
    export_id = uuid.uuid4()
    started = clock.now()
    row = await DataExport.create(
        id=export_id,
        kind=DataExportKind.WORKSPACE,
        workspace=workspace,
        region=workspace.region,
        status=JobStatus.RUNNING,
        attempts=1,
        started_at=started,
    )
    final = exports.archive_path(settings, row)
    final.parent.mkdir(parents=True, exist_ok=True)
    half = final.with_name(f"{final.name}.{uuid.uuid4().hex}.partial")
    half.write_bytes(b"PK\x03\x04 half an archive")

    listed = await owner.gql("{ dataExports { id status downloadUrl } }")
    mine = [e for e in listed["dataExports"] if e["id"] == ids.encode("DataExport", export_id)]
    assert mine == [{"id": mine[0]["id"], "status": "RUNNING", "downloadUrl": None}]
    assert not final.exists()

    # Within the grace a running job is left alone; past it, the sweep restarts it.
    actions = await sweep(started + timedelta(minutes=5))
    assert not [a for a in actions if a.subject == str(export_id)]
    actions = await sweep(started + timedelta(minutes=16))
    assert [a.kind for a in actions if a.subject == str(export_id)] == ["restart export"]

    row = await DataExport.get(id=export_id)
    assert row.status == JobStatus.SUCCEEDED and row.attempts == 2
    with zipfile.ZipFile(io.BytesIO(final.read_bytes())) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["workspace"]["slug"] == owner.workspace
        assert archive.testzip() is None
    assert half.exists()  # not yet a day old

    day_old = time.time() - 2 * 86400
    os.utime(half, (day_old, day_old))
    actions = await sweep(started + timedelta(minutes=20))
    assert "delete abandoned partial archives" in [a.kind for a in actions]
    assert not half.exists()
    assert final.exists()
