"""Layer 5: the distribution model (behaviors, policies, origins, settings) and the loaders that
build it from a DistributionConfig, a CloudFormation/SAM template or the project's TOML."""
