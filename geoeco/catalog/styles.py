"""QGIS layer styles (QML) built from geoeco's class tables.

A GeoPackage written by geoeco carries these in its ``layer_styles`` table, so QGIS opens the
units and the red line already coloured and labelled in Chinese and English, with the same
colours as the rasters, the API tiles and the web maps (one class table is the single source).

Examples
--------
>>> qml = categorized_qml("unit_class", "ZHGKDYFL")
>>> 'attr="unit_class"' in qml and "优先保护单元" in qml and "27,120,55,200" in qml
True
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from .classes import get_table


def _rgba(hex_colour: str, alpha: int = 255) -> str:
    h = hex_colour.lstrip("#")
    return f"{int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha}"


def categorized_qml(
    attribute: str, table: str, *, outline: str = "#232323", fill_alpha: int = 200
) -> str:
    """QML of a categorized fill renderer on ``attribute`` with the classes of ``table``."""
    t = get_table(table)
    cats = []
    syms = []
    for i, c in enumerate(t.classes):
        label = quoteattr(f"{c.code} {c.name_zh} {c.name_en}")
        cats.append(f'<category value="{c.code}" symbol="{i}" label={label} render="true"/>')
        syms.append(
            f'<symbol type="fill" name="{i}" alpha="1" clip_to_extent="1" force_rhr="0">'
            '<layer class="SimpleFill" enabled="1" locked="0" pass="0"><Option type="Map">'
            f'<Option name="color" type="QString" value="{_rgba(c.colour, fill_alpha)}"/>'
            f'<Option name="outline_color" type="QString" value="{_rgba(outline)}"/>'
            '<Option name="outline_style" type="QString" value="solid"/>'
            '<Option name="outline_width" type="QString" value="0.2"/>'
            '<Option name="style" type="QString" value="solid"/>'
            "</Option></layer></symbol>"
        )
    return (
        '<!DOCTYPE qgis PUBLIC "http://mrcc.com/qgis.dtd" "SYSTEM">\n'
        '<qgis version="3.28" styleCategories="Symbology">'
        f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(attribute)} symbollevels="0" '
        'enableorderby="0" forceraster="0">'
        f"<categories>{''.join(cats)}</categories><symbols>{''.join(syms)}</symbols>"
        "</renderer-v2></qgis>\n"
    )


#: Styles geoeco puts into zoning GeoPackages: layer → (attribute, class table).
ZONING_STYLES: dict[str, tuple[str, str]] = {
    "units": ("unit_class", "ZHGKDYFL"),
    "redline": ("LXBM", "LXBM"),
}
