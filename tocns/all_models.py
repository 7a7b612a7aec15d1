"""Import every module that defines tables, so SQLModel.metadata is complete (Alembic, tests)."""

from tocns.features.activity import models as activity_models  # noqa: F401
