"""Every table of the engine on one metadata, for migrations and schema checks.

The core's tables are in ``models``; packages with tables of their own (tickets, the dialer)
define them on the same ``Base``. Importing this module registers them all.
"""

import callcenter.store.leases  # noqa: F401 - registers the node leases table
import callcenter.store.nodes  # noqa: F401 - registers the cluster nodes table
import callcenter.store.queue_callbacks  # noqa: F401 - registers the kept places table
import callcenter.store.recordings  # noqa: F401 - registers the recording tables
import callcenter.store.tickets  # noqa: F401 - registers the ticket tables
import dialer.store  # noqa: F401 - registers the campaign tables
from callcenter.store.models import Base

metadata = Base.metadata
