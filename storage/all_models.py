"""Import every module that defines tables, so SQLModel.metadata is complete (Alembic, tests)."""

from storage import (  # noqa: F401
    activity_models,
    directive_api_models,
    directive_models,
    inbound_models,
    models,
    outbox_models,
    reports_models,
    task_models,
)
