"""Import every module that defines tables, so SQLModel.metadata is complete (Alembic, tests)."""

from tocns.db import audit, job_done  # noqa: F401
from tocns.features.activity import models as activity_models  # noqa: F401
from tocns.features.apitokens import models as apitoken_models  # noqa: F401
from tocns.features.dashboard import models as dashboard_models  # noqa: F401
from tocns.features.directives import models as directive_models  # noqa: F401
from tocns.features.org import models as org_models  # noqa: F401
from tocns.features.rollups import models as rollup_models  # noqa: F401
from tocns.features.targets import models as target_models  # noqa: F401
from tocns.features.tasks import models as task_models  # noqa: F401
from tocns.features.zalo_oa import models as zalo_oa_models  # noqa: F401
from tocns.inbound import models as inbound_models  # noqa: F401
from tocns.outbox import models as outbox_models  # noqa: F401
