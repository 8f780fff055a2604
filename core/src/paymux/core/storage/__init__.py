"""Storage adapters: SQLModel tables, the database factory, migrations, and the unit of work."""
