"""Helpers shared by several test modules: the two front doors (``doors``), real servers on
127.0.0.1 (``servers``) and the storage contract (``storage_contract``)."""
