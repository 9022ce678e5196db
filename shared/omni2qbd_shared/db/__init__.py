"""Database: SQLModel tables, async engines and the unit of work."""
