"""The names of an evaluation run's class rasters: the zoning rule sets' input names.

``geoeco evaluate`` writes each classified output under the name of the rule-set input it
feeds (``geoeco/data/rules/*.toml``: ``importance_windbreak``, ``sensitivity_soil_erosion`` ...),
so that ``geoeco zone --inputs-from DIR`` and the demo bind them without renaming. The
service values keep the service's name (``service_sand_fixation.tif``), as do the settings
(``services = ["sand_fixation"]``).

Runs before issue 14 wrote three of them under other names (:data:`LEGACY_NAMES`); the readers
of evaluation folders (:func:`geoeco.workflows.input_folders.inputs_from_folder`, the query
context) still find those.

Examples
--------
>>> importance_name("sand_fixation"), SENSITIVITY_NAMES["water-erosion"]
('importance_windbreak', 'sensitivity_soil_erosion')
>>> LEGACY_NAMES["sensitivity_sanding"]
'sanding_sensitivity'
"""

from __future__ import annotations

#: Each service's importance classes, named by the rule-set input they feed.
IMPORTANCE_NAMES: dict[str, str] = {
    "soil_conservation": "importance_soil_conservation",
    "sand_fixation": "importance_windbreak",
    "water_conservation": "importance_water_conservation",
    "biodiversity": "importance_biodiversity",
}
#: Each sensitivity's classes (its index: ``<name>_index``), named as above; keys are the
#: class-table kinds (``<scheme>/sanding``, ``<scheme>/water-erosion``).
SENSITIVITY_NAMES: dict[str, str] = {
    "sanding": "sensitivity_sanding",
    "water-erosion": "sensitivity_soil_erosion",
}
#: Name -> the name geoeco wrote before issue 14 (evaluation folders made then use it).
LEGACY_NAMES: dict[str, str] = {
    "importance_windbreak": "importance_sand_fixation",
    "sensitivity_soil_erosion": "water_erosion_sensitivity",
    "sensitivity_sanding": "sanding_sensitivity",
}


def importance_name(service: str) -> str:
    """The output name of ``service``'s importance classes (``importance_<service>`` for a
    service the rule sets do not name)."""
    return IMPORTANCE_NAMES.get(service, f"importance_{service}")


__all__ = ["IMPORTANCE_NAMES", "LEGACY_NAMES", "SENSITIVITY_NAMES", "importance_name"]
