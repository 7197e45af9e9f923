"""The embedded cluster's socket directory: a short path whatever the data directory, and refused
when a link or another account's directory stands in its place."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from fxticker.storage import cluster as db


def test_a_deep_data_directory_keeps_its_socket_path_short(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    cluster = db.EmbeddedCluster(deep, Path("/nonexistent"))
    assert len(str(cluster.socket_dir / ".s.PGSQL.5432")) < 100


def _deep_cluster(tmp_path: Path) -> db.EmbeddedCluster:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    cluster = db.EmbeddedCluster(deep, db._pg_bindir())
    assert cluster.socket_dir.parent == Path(tempfile.gettempdir())
    return cluster


def test_a_link_planted_at_the_socket_directory_is_refused(tmp_path: Path) -> None:
    cluster = _deep_cluster(tmp_path)
    target = tmp_path / "victim"
    target.mkdir(mode=0o755)
    cluster.socket_dir.symlink_to(target)
    try:
        with pytest.raises(db.DatabaseError, match=r"socket directory, is not a directory of .*a link"):
            cluster.init()
        # Nothing was handed over through the link, and no cluster was made behind it.
        assert (target.stat().st_uid, target.stat().st_mode & 0o777) == (os.geteuid(), 0o755)
        assert not cluster.initialized()
    finally:
        cluster.socket_dir.unlink()


def test_a_socket_directory_of_another_account_is_refused(tmp_path: Path) -> None:
    cluster = _deep_cluster(tmp_path)
    cluster.socket_dir.mkdir(mode=0o777)
    try:
        if os.geteuid() == 0:
            os.chown(cluster.socket_dir, 65534, 65534)  # nobody's
            with pytest.raises(db.DatabaseError, match="socket directory, is not a directory of 'postgres'"):
                cluster.init()
        else:
            # Ours, left open: closed to others before the server puts its socket there.
            cluster._private_socket_dir()
            assert cluster.socket_dir.stat().st_mode & 0o777 == 0o700
    finally:
        cluster.socket_dir.rmdir()
