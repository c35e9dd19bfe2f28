"""The record: SQLAlchemy 2 models, the database connection, migrations and repositories.

SQLite (WAL, foreign keys on) is the embedded default; PostgreSQL is the production database.
"""

from callcenter.store.database import Database, make_engine, open_database
from callcenter.store.migrate import current_revision, downgrade, ensure_current, upgrade
from callcenter.store.models import Base
from callcenter.store.repositories import STRATEGIES, AgentRepository, QueueRepository

__all__ = [
    "STRATEGIES",
    "AgentRepository",
    "Base",
    "Database",
    "QueueRepository",
    "current_revision",
    "downgrade",
    "ensure_current",
    "make_engine",
    "open_database",
    "upgrade",
]
