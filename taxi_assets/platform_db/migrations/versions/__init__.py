"""One module per schema revision, applied in order by ``taxi_assets.platform_db.schema.upgrade``."""
