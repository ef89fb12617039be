"""MariaDB / MySQL only: what the partial indexes of PostgreSQL and SQLite give, by generated columns.

Neither has partial indexes: Django skips the partial unique constraint jq_job_unique_active
there (models.W036) and builds the other partial indexes over every row (models.W037). Two
generated columns, NULL unless the job is in the states the partial conditions name, carry
their guarantees instead (a NULL never conflicts in a unique index and is skipped by a
`IS NOT NULL` range):

- unique_active: the unique key while the job waits or runs; under a unique index with the
  job type it is the database-enforced "one waiting or running job per key and type".
- claim_rank: minus the priority while the job waits; the claim reads the index
  (claim_rank, run_after) in ascending order (highest priority, then oldest) and never walks
  the finished history. Ascending on both columns, so no descending index is needed.

Unique keys get a binary NO PAD collation there, so that they compare exactly as elsewhere.

The columns are not model fields: only jobqueue.engine.sql names them, and the ORM never
writes them (the database computes them). Nothing runs on PostgreSQL or SQLite.
"""

from typing import Any

from django.db import migrations

WAITING = "'queued', 'scheduled', 'retrying'"
ACTIVE = "'queued', 'scheduled', 'running', 'retrying'"

FORWARD = [
    # Unique keys compare exactly, as on PostgreSQL and SQLite: MariaDB's default collations
    # ignore case and trailing spaces, which would make {"name": "Bob"} a duplicate of "bob"
    # ({exact}: binary and NO PAD, MariaDB's utf8mb4_nopad_bin or MySQL's utf8mb4_0900_bin).
    "ALTER TABLE jobqueue_job MODIFY unique_key varchar(255) CHARACTER SET utf8mb4 COLLATE {exact} NULL",
    "ALTER TABLE jobqueue_uniquelock MODIFY `key` varchar(255) CHARACTER SET utf8mb4 COLLATE {exact} NOT NULL",
    "ALTER TABLE jobqueue_job "
    f"ADD COLUMN unique_active varchar(255) CHARACTER SET utf8mb4 COLLATE {{exact}} AS (CASE WHEN status IN ({ACTIVE}) THEN unique_key END) STORED, "
    f"ADD COLUMN claim_rank smallint AS (CASE WHEN status IN ({WAITING}) THEN -priority END) STORED",
    "CREATE UNIQUE INDEX jq_job_unique_active_gen ON jobqueue_job (job_type_id, unique_active)",
    "CREATE INDEX jq_job_claim_gen ON jobqueue_job (claim_rank, run_after)",
]
BACKWARD = [
    "DROP INDEX jq_job_claim_gen ON jobqueue_job",
    "DROP INDEX jq_job_unique_active_gen ON jobqueue_job",
    "ALTER TABLE jobqueue_job DROP COLUMN claim_rank, DROP COLUMN unique_active",
]  # the binary collations of the keys stay: exact comparison is what every version wants


def _on_mysql(statements: list[str]) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        connection = schema_editor.connection
        if connection.vendor == "mysql":
            exact = "utf8mb4_nopad_bin" if connection.mysql_is_mariadb else "utf8mb4_0900_bin"
            for statement in statements:
                schema_editor.execute(statement.replace("{exact}", exact))

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("jobqueue", "0009_payload_search_index"),
    ]

    operations = [
        migrations.RunPython(_on_mysql(FORWARD), _on_mysql(BACKWARD), atomic=False, elidable=False),
    ]
