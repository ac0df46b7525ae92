#!/usr/bin/env python3
"""Fetch the GraphiQL page's assets from the npm registry and check them.

    python3 scripts/graphiql_assets.py            fetch the pinned versions (needs npm)
    python3 scripts/graphiql_assets.py --check    check the committed files, offline

Each package is fetched with ``npm pack`` at its pinned version; the tarball must match
the registry's sha512 integrity, and every file taken from it the sha384 subresource
integrity pinned here (the hashes under which the same versions are published on the
public CDNs). The files, each package's licence and ``ASSETS.json`` (what the page's
integrity attributes are built from) go into ``lightningtrack/static/graphiql/``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "lightningtrack" / "static" / "graphiql"

# (package, version, tarball integrity, licence, [(file in the package, sri)])
PINNED = [
    (
        "react",
        "18.2.0",
        "sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==",
        "MIT",
        [
            (
                "umd/react.production.min.js",
                "sha384-tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8",
            )
        ],
    ),
    (
        "react-dom",
        "18.2.0",
        "sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g==",
        "MIT",
        [
            (
                "umd/react-dom.production.min.js",
                "sha384-bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh",
            )
        ],
    ),
    (
        "graphiql",
        "3.8.3",
        "sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw==",
        "MIT",
        [
            (
                "graphiql.min.js",
                "sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
            ),
            (
                "graphiql.min.css",
                "sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
            ),
        ],
    ),
    (
        "@graphiql/plugin-explorer",
        "1.0.2",
        "sha512-9j+kg2UjtLZD5EBmGjeWHkoVVxtbShYg2DzbUVebibnZYZM/iMBEF4vaccXJIAm5KaomIPLx0aoNs4LbODyc3Q==",
        "MIT",
        [
            (
                "dist/index.umd.js",
                "sha384-2oonKe47vfHIZnmB6ZZ10vl7T0Y+qrHQF2cmNTaFDuPshpKqpUMGMc9jgj9MLDZ9",
            ),
            (
                "dist/style.css",
                "sha384-5DFJlDPW2tSATRbM8kzoP1j194jexLswuNmClWoRr2Q0x7R68JIQzPHZ02Faktwi",
            ),
        ],
    ),
]
# The explorer plugin's tarball has no licence file; it is part of the GraphiQL
# repository, whose MIT licence (GraphiQL's own LICENSE) covers it.
LICENCE_FROM = {"@graphiql/plugin-explorer": "graphiql"}


def sri(data: bytes, algorithm: str = "sha384") -> str:
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def folder_of(package: str, version: str) -> str:
    return f"{package.rsplit('/', 1)[-1]}@{version}"


def fetch() -> None:
    manifest = []
    licences: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for package, version, integrity, licence, files in PINNED:
            out = subprocess.run(
                ["npm", "pack", "--silent", f"{package}@{version}", "--pack-destination", tmp],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            tarball = Path(tmp) / out.splitlines()[-1]
            if sri(tarball.read_bytes(), "sha512") != integrity:
                sys.exit(f"{package}@{version}: tarball does not match its registry integrity")
            folder = TARGET / folder_of(package, version)
            folder.mkdir(parents=True, exist_ok=True)
            with tarfile.open(tarball) as archive:
                for name, expected in files:
                    member = archive.extractfile(f"package/{name}")
                    assert member is not None
                    data = member.read()
                    if sri(data) != expected:
                        sys.exit(f"{package}@{version}/{name}: does not match {expected}")
                    (folder / Path(name).name).write_bytes(data)
                    manifest.append(
                        {
                            "package": package,
                            "version": version,
                            "licence": licence,
                            "path": f"{folder.name}/{Path(name).name}",
                            "integrity": expected,
                        }
                    )
                try:
                    member = archive.extractfile("package/LICENSE")
                except KeyError:
                    member = None
                if member is not None:
                    licences[package] = member.read()
            source = LICENCE_FROM.get(package, package)
            if source in licences:
                (folder / "LICENSE").write_bytes(licences[source])
    (TARGET / "ASSETS.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(manifest)} files into {TARGET.relative_to(ROOT)}")


def check() -> int:
    manifest = json.loads((TARGET / "ASSETS.json").read_text())
    bad = [e["path"] for e in manifest if sri((TARGET / e["path"]).read_bytes()) != e["integrity"]]
    pinned = {f"{folder_of(p, v)}/{Path(n).name}": s for p, v, _, _, fs in PINNED for n, s in fs}
    if {e["path"]: e["integrity"] for e in manifest} != pinned:
        bad.append("ASSETS.json differs from the pins in this script")
    for path in bad:
        print(f"graphiql assets: {path} does not match", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="check the committed files")
    sys.exit(check() if parser.parse_args().check else fetch())
