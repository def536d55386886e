"""Delivery: Kafka topics, object storage, HDF5/SigMF datasets, dataset catalogue."""
