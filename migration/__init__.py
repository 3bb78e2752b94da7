"""Rollout modes: shadow, canary, ramp, kill switch, auto-rollback (see the migration issue)."""
