"""`scripts/bench`: measures Berth against the same app on plain uvicorn (see DESIGN.md, Goals)."""
