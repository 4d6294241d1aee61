import os
import sys

from . import isolation

# A fresh interpreter isolates itself before the runner (and so any user code) is imported; a
# zygote's children do the same in berth._runtime.zygote.
_plan = isolation.take_plan(os.environ)
if _plan is not None:
    isolation.enter(_plan)

from .main import main  # noqa: E402

sys.exit(main())
