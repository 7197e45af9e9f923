"""The test tree's fixtures, each family in its own plugin module (tests/fix_*.py), registered here so
that a test asks for a fixture by name and never imports it.

tests/unit/ holds the tests that need no database, server, browser or subprocess (`make test-unit`); its
own conftest refuses the fixtures that would start one.
"""

import pytest

pytest_plugins = [
    "tests.fix_db",
    "tests.fix_api",
    "tests.fix_archive",
    "tests.fix_browser",
    "tests.fix_ops",
    "tests.fix_reliability",
    "tests.fix_scrape",
    "tests.fix_serve",
    "tests.fix_wait",
]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `--dist loadgroup`, the timing tests are one group: one worker runs them one after another,
    so none shares its server, its clock or its signals with another timing test. Every other test is
    grouped with its file, as `--dist loadfile` would, so that a module's shared fixtures (a database
    filled once, a server started once) are set up on one worker only."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        group = "timing" if item.get_closest_marker("timing") else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
