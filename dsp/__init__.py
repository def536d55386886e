"""Downlink DSP: CCSDS transmitter simulator and receiver (arrays in, arrays out)."""
