"""Rollups: the per-team, per-day totals every report, digest, dashboard figure and target progress reads."""
