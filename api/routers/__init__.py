"""HTTP routers: one module per group of routes (each exposes ``router``)."""
