"""How long a worker believes the data version its watch read (fxticker/web/version_watch.py)."""

from __future__ import annotations

from fxticker.web.version_watch import HEARTBEAT, TRUST, vouched


def test_a_version_is_believed_until_trust_has_passed_since_its_read_began() -> None:
    assert vouched((7, 100.0), 100.0) == 7
    assert vouched((7, 100.0), 100.0 + TRUST) == 7
    assert vouched((7, 100.0), 100.0 + TRUST + 0.001) is None


def test_nothing_read_is_nothing_believed() -> None:
    assert vouched(None, 100.0) is None


def test_one_late_heartbeat_is_tolerated_and_two_are_not() -> None:
    assert HEARTBEAT < TRUST < 3 * HEARTBEAT
