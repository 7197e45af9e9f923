"""The test tree's fixtures, each family in its own plugin module (tests/fix_*.py), registered here so
that a test asks for a fixture by name and never imports it.

tests/unit/ holds the tests that need no database, server, browser or subprocess (`make test-unit`); its
own conftest refuses the fixtures that would start one.
"""

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
