"""Share replication flows: replicas (create, delete, promote, resync, periodic) and replicated snapshots."""
