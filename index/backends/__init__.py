"""Storage and retrieval backends behind `index.store`: embedded (SQLite + FAISS) and Postgres."""
