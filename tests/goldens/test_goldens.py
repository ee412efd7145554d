"""The committed goldens are the release's bytes: every file of SHA256SUMS present and unchanged."""

from __future__ import annotations

import hashlib


def test_goldens_match_their_checksums(goldens_dir):
    lines = (goldens_dir / "SHA256SUMS").read_text().splitlines()
    assert len(lines) >= 15
    bad = []
    for line in lines:
        digest, name = line.split(maxsplit=1)
        path = goldens_dir / name
        if not path.is_file():
            bad.append(f"{name}: missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            bad.append(f"{name}: changed")
    assert not bad, "goldens differ from tests/goldens/SHA256SUMS: " + "; ".join(bad)
