"""Built-in layer manifests (data package ``geoeco_layers``; holds TOML files, no code)."""
