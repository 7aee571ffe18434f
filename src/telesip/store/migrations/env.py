"""Alembic environment: runs on the connection telesip hands over (see telesip.store.migrate)."""

from __future__ import annotations

from alembic import context

from telesip.store.tables import include_object_on, metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `alembic` run by hand without telesip
    raise RuntimeError("run migrations with `telesip db upgrade`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=include_object_on(connection.dialect.name),
)
with context.begin_transaction():
    context.run_migrations()
