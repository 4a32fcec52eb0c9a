"""One module per schema revision, applied in order by ``taxi_assets.lifecycle.schema.upgrade``."""
