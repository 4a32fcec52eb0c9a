"""Monitoring: the reference profile that drift is measured against."""

import dagster as dg
from pydantic import Field

from taxi_assets import constants
from taxi_assets.assets.common import failing_clearly
from taxi_assets.assets.features import training_set
from taxi_assets.drift.profile import fit_reference_profile, reference_sample, write_profile
from taxi_assets.lakefs import read_committed
from taxi_assets.modeling.feature_schema import read_feature_table
from taxi_assets.modeling.split import SPLIT, TRAIN
from taxi_assets.partitions import service_partitions
from taxi_assets.resources import DataLake


class ReferenceProfileConfig(dg.Config):
    """How the reference profile is fitted."""

    bins: int = Field(default=constants.REFERENCE_BINS, description="Quantile bins per numeric feature.")
    sample_rows: int = Field(
        default=constants.REFERENCE_SAMPLE_ROWS, description="Rows in the reference sample (reference.csv)."
    )
    seed: int = Field(default=constants.PROFILE_SEED, description="Seed of the reference sample.")


@dg.asset(
    partitions_def=service_partitions,
    deps=[training_set],
    group_name=constants.MONITORING_GROUP,
    kinds={"numpy", "json"},
    code_version="1",
)
def reference_profile(
    context: dg.AssetExecutionContext, config: ReferenceProfileConfig, lake: DataLake
) -> dg.MaterializeResult:
    """The reference the monitoring compares live traffic with, fitted on the training split only.

    Per-feature quantile bins and shares, category shares, valid API ranges and a reference sample; written as
    reference_profile.json plus reference.csv.
    """
    service = context.partition_key
    with failing_clearly():
        manifest, data = read_committed(lake.training_set(service), f"training_set {service}")
        train = read_feature_table(data / f"{SPLIT}={TRAIN}")
        profile = fit_reference_profile(
            train,
            service=service,
            months=manifest["months"],
            bins=config.bins,
            seed=config.seed,
            training_set_hash=manifest["train_hash"],
        )
    sample = reference_sample(train, config.sample_rows, config.seed)
    profile_path, sample_path = write_profile(profile, sample, lake.profile_dir(service))
    ranges = {name: [round(p.robust_low, 3), round(p.robust_high, 3)] for name, p in profile.numeric.items()}
    return dg.MaterializeResult(
        metadata={
            "rows": profile.rows,
            "months": dg.MetadataValue.json(profile.months),
            "bins_per_feature": dg.MetadataValue.json({n: len(p.shares) for n, p in profile.numeric.items()}),
            "robust_ranges": dg.MetadataValue.json(ranges),
            "categories": dg.MetadataValue.json({n: len(p.shares) for n, p in profile.categorical.items()}),
            "target_mean": round(profile.target.mean, 4),
            "sample_rows": len(sample),
            "training_set_hash": profile.training_set_hash,
            "profile_path": dg.MetadataValue.path(str(profile_path)),
            "sample_path": dg.MetadataValue.path(str(sample_path)),
        }
    )
