"""Orbital mechanics: TLE/OMM parsing, SGP4 propagation, pass prediction, tracks, Doppler."""
