"""Delivery: Kafka topics, object storage, HDF5/SigMF datasets, dataset catalogue.

- `ingest.topics`: topic names and contracts (frame headers, JSON messages),
  each message defined once as a pydantic dataclass;
- `ingest.contracts`: generates from them the JSON Schemas in
  ``ingest/schemas/`` and the tables of docs/topics.md
  (``python -m ingest.contracts --write``).
- `ingest.publisher`: the `Publisher` interface, the embedded local topic log,
  `open_publisher(KafkaConfig)`, `PublisherEventSink` for contact events.
- `ingest.kafka_publisher`: Kafka through the durable `ingest.spool`, sent by the
  producer process `ingest.producer_process`.
- `ingest.consumer`: follow a topic (Kafka or local log), `follow_frames`.
- `ingest.rebuild`: example consumer rebuilding a payload (or the imaging
  payload's picture) from frames.
- `ingest.imagery`: the imaging payload's packet format and image rebuild.
- `ingest.objectstore`: local folder and S3 object stores, verified reads.
- `ingest.h5frames`, `ingest.sigmf`: ``frames.h5`` and SigMF writers.
- `ingest.dataset`: dataset writer (atomic visibility), reader, start-up recovery.
- `ingest.catalog`: SQLAlchemy catalogue models and `CatalogService`.
"""
