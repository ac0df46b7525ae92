from tests.conftest import Client


async def test_owner_reads_its_workspace(owner: Client) -> None:
    data = await owner.gql("{ viewer { name } workspace { slug viewerRole } }")
    assert data["viewer"]["name"] == "Owner"
    assert data["workspace"] == {"slug": owner.workspace, "viewerRole": "OWNER"}
