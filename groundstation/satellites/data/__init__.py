"""Built-in satellite files (YAML package data, read by groundstation.satellites)."""
