"""Import every module that defines tables, so SQLModel.metadata is complete (Alembic, tests)."""

from storage import activity_models, inbound_models, models, outbox_models  # noqa: F401
