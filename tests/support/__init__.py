"""Helpers shared by test packages (imported, never collected: no test here)."""
