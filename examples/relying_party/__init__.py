"""The sample relying party (see app.py)."""
