"""The test settings, but with a SQLite DATABASES entry as Django's default project template
writes it: no `transaction_mode`. The engine must take its write lock itself."""

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

DATABASES["default"].get("OPTIONS", {}).pop("transaction_mode", None)
