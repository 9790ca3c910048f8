"""The model registry: versioned simulation models, aliases moved through evidence gates."""
