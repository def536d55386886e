"""Built-in downlink profiles (YAML package data, loaded by dsp.profile)."""
