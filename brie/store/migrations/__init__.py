"""Numbered migration modules: mNNN_<what>.py, each with up(db). See brie/store/migrate.py."""
