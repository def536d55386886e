"""Satellite ground-station service: domain, persistence, booking, planning, lifecycle, CLI."""
