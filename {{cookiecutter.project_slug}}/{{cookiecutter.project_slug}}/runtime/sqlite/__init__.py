"""Django's SQLite backend, plus one write transaction at a time per process (base.py)."""
