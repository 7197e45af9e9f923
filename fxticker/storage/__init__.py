"""Storage: the database (embedded or DATABASE_URL), its migrations and the SQL of the ticker's tables."""
