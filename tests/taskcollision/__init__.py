"""An app with two tasks whose names differ only in case (tests/test_tasks_contract.py)."""
