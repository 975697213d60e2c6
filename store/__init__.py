"""PostgreSQL access: the embedded server or DATABASE_URL, schema, and every SQL statement we run."""
