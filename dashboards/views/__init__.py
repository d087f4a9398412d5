"""One module per page; each exposes ``render()`` and is registered in ``dashboards/app.py``."""
