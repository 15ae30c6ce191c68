"""The library's rules in plain Python: rooms, patrons, policy and refusals (no Home Assistant)."""
