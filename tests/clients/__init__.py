"""Standard clients (GDAL, OWSLib) against a real server (a package: module names stay unique)."""
