"""The small JavaScript and CSS runtime of geoeco's maps (strings only; no folium here).

No package ships a categorical legend that follows its layer (folium#450, #399, #528), a
search by unit code over a canvas-rendered layer, or a decoder for the compact polygons of
:mod:`geoeco.maps.data`; they are a few lines each, written here and inlined into every map
once (``window.geoeco``):

* ``geoeco.polys(map, data, style)`` - a ``L.featureGroup`` of ``L.polygon`` decoded from
  ``data.g`` (delta-encoded rings, ``data.p`` decimals; ``L.polyline`` when ``data.l``);
  ``style`` is an object, or
  ``{"by": column, "colours": {value: colour}}`` to colour by a column;
* ``geoeco.units(map, data, style)`` - the control units: class colours, one popup builder shared
  by all units (class/add-on access texts are stored once and looked up by index);
* ``geoeco.legend(map, layer, spec)`` - a legend control shown only while ``layer`` is on;
* ``geoeco.search(map, layer)`` - a text box that finds a unit by code, zooms to it and opens
  its popup;
* ``geoeco.catalog.layers`` - every layer built, by name, for tests and scripts.
"""

from __future__ import annotations

CSS = """
.geoeco-legend{background:rgba(255,255,255,.93);padding:6px 9px;font:12px/1.4 sans-serif;
border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.35);max-width:270px;color:#222}
.geoeco-legend b{display:block;margin-bottom:3px}
.geoeco-legend i{display:inline-block;width:14px;height:12px;margin-right:6px;
vertical-align:-1px;border:1px solid #666}
.geoeco-legend i.line{height:0;border-width:2px 0 0 0;border-style:solid;vertical-align:3px}
.geoeco-legend .ramp{display:block;height:10px;width:190px;border:1px solid #666}
.geoeco-legend .ends{display:flex;justify-content:space-between;width:192px;font-size:11px}
.geoeco-popup{font:12px/1.4 sans-serif;max-height:340px;overflow-y:auto}
.geoeco-popup table{border-collapse:collapse;margin:4px 0}
.geoeco-popup th{text-align:left;padding:2px 8px 2px 0;vertical-align:top;font-weight:600}
.geoeco-popup th small{font-weight:400;color:#555}
.geoeco-popup td{padding:2px 0;vertical-align:top}
.geoeco-popup details{margin:3px 0}.geoeco-popup summary{cursor:pointer;font-weight:600}
.geoeco-popup p{margin:3px 0 3px 10px}.geoeco-popup .warn{color:#a50026}
.geoeco-search{background:#fff}.geoeco-search input{width:200px;padding:5px 7px;border:0;
font-size:13px;border-radius:4px}.geoeco-search.miss input{background:#fde0dd}
"""

JS = r"""
window.geoeco = (function () {
  "use strict";
  var layers = {};
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function ring(a, s) {
    var o = [], x = 0, y = 0;
    for (var i = 0; i < a.length; i += 2) { x += a[i]; y += a[i + 1]; o.push([y / s, x / s]); }
    return o;
  }
  function latlngs(g, s) {
    return g.map(function (p) { return p.map(function (r) { return ring(r, s); }); });
  }
  function styler(d, style) {
    if (!style || !style.by) { return function () { return style || {}; }; }
    return function (i) {
      var st = L.extend({}, style.base || {}), c = style.colours[d[style.by][i]] || "#999999";
      st.color = c; if (st.fill !== false) { st.fillColor = c; }
      return st;
    };
  }
  function polys(map, d, style, name) {
    var s = Math.pow(10, d.p), grp = L.featureGroup(), st = styler(d, style);
    for (var i = 0; i < d.g.length; i++) {
      if (!d.g[i].length) { continue; }
      var lyr = d.l ? L.polyline(d.g[i].map(function (r) { return ring(r, s); }), st(i))
                    : L.polygon(latlngs(d.g[i], s), st(i));
      lyr._gi = i;
      if (d.name) { lyr.bindTooltip(esc(d.name[i]), {sticky: true}); }
      grp.addLayer(lyr);
    }
    grp._geoeco = d;
    if (name) { layers[name] = grp; }
    return grp;
  }
  function label(t, k) {
    var c = t && t[k];
    return c ? esc(c[0]) + " / " + esc(c[1]) : "–";
  }
  function pct(v) { return v == null ? "–" : (100 * v).toFixed(1) + " %"; }
  function num(v) {
    return v == null ? "–" : Number(v).toLocaleString("en", {maximumFractionDigits: 2});
  }
  function row(zh, en, v) {
    return "<tr><th>" + zh + "<br><small>" + en + "</small></th><td>" + v + "</td></tr>";
  }
  function popup(d, i) {
    var h = "<div class='geoeco-popup' data-code='" + esc(d.code[i]) + "'><b>" + esc(d.code[i]) +
      "</b><table>";
    h += row("管控单元类别", "Unit class", label(d.classes, d.cls[i]));
    h += row("所在区县", "County", esc(d.counties[d.county[i]]));
    h += row("面积", "Area", num(d.area[i]) + " km²" +
      (d.area_gk[i] == null ? "" : " (高斯-克吕格 Gauss–Krüger " + num(d.area_gk[i]) + " km²)"));
    h += row("生态保护红线", "Red line share", pct(d.rl[i]) +
      (d.rlm[i] ? " · " + label(d.lxbm, d.rlm[i]) : ""));
    h += row("主要土壤侵蚀强度", "Main soil-loss grade", label(d.erosion, d.eg[i]));
    h += row("主要沙化程度", "Main desertification degree", label(d.desert, d.dd[i]));
    h += row("国家公园", "National park share", pct(d.park[i]));
    h += row("三北工程区", "Three-North area", d.tn[i] ? "是 yes" : "否 no");
    var b = d.bat[i] ? d.bat[i].split(",") : [];
    h += row("标志性战役", "Landmark battles", b.length ? b.map(function (k) {
      return label(d.battles, k);
    }).join("<br>") : "–");
    if (d.apx[i] || d.syn[i]) {
      h += row("注意", "Caution", "<span class='warn'>" +
        (d.apx[i] ? "依赖近似图层 depends on approximated layers<br>" : "") +
        (d.syn[i] ? "依赖合成数据 depends on synthetic data" : "") + "</span>");
    }
    h += "</table><b>生态环境准入清单 Access list</b>";
    var t = d.texts[d.acc[i]];
    for (var k = 0; k < d.dims.length; k++) {
      h += "<details" + (k === 0 ? " open" : "") + "><summary>" + esc(d.dims[k][0]) + " " +
        esc(d.dims[k][1]) + "</summary><p lang='zh'>" + esc(t[2 * k]) + "</p><p lang='en'>" +
        esc(t[2 * k + 1]) + "</p></details>";
    }
    return h + "</div>";
  }
  function units(map, d, style, name) {
    var colours = {};
    for (var k in d.classes) { colours[k] = d.classes[k][2]; }
    var grp = polys(map, d, {by: "cls", colours: colours, base: style}, name);
    grp.bindPopup(function (lyr) { return popup(d, lyr._gi); }, {maxWidth: 440});
    grp._byCode = {};
    grp.eachLayer(function (l) { grp._byCode[d.code[l._gi]] = l; });
    grp._popup_html = function (i) { return popup(d, i); };
    return grp;
  }
  function legend(map, layer, spec) {
    var ctl = L.control({position: spec.position || "bottomright"});
    ctl.onAdd = function () {
      var div = L.DomUtil.create("div", "geoeco-legend leaflet-control");
      div.setAttribute("data-layer", spec.title);
      var h = "<b>" + esc(spec.title) + "</b>";
      if (spec.ramp) {
        h += "<span class='ramp' style='background:linear-gradient(to right," + spec.ramp[0] +
          "," + spec.ramp[1] + ")'></span><span class='ends'><span>" + esc(spec.ends[0]) +
          "</span><span>" + esc(spec.ends[1]) + "</span></span>";
      }
      (spec.items || []).forEach(function (it) {
        h += "<div><i class='" + (spec.line ? "line" : "") + "' style='" +
          (spec.line ? "border-color:" : "background:") + it[0] + "'></i>" + esc(it[1]) + "</div>";
      });
      div.innerHTML = h;
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    layer.on("add", function () { ctl.addTo(map); });
    layer.on("remove", function () { ctl.remove(); });
    if (map.hasLayer(layer)) { ctl.addTo(map); }
    return ctl;
  }
  function search(map, grp) {
    var d = grp._geoeco, ctl = L.control({position: "topleft"}), pop = L.popup({maxWidth: 440});
    ctl.onAdd = function () {
      var div = L.DomUtil.create("div", "geoeco-search leaflet-bar leaflet-control");
      var inp = L.DomUtil.create("input", "", div), list = L.DomUtil.create("datalist", "", div);
      list.id = "geoeco-codes-" + L.stamp(ctl);
      inp.type = "search"; inp.setAttribute("list", list.id);
      inp.placeholder = "单元编码 unit code"; inp.setAttribute("aria-label", "unit code");
      function go(strict) {
        var l = grp._byCode[inp.value.trim()];
        L.DomUtil[l || !strict ? "removeClass" : "addClass"](div, "miss");
        if (!l) { return; }
        if (!map.hasLayer(grp)) { map.addLayer(grp); }
        map.fitBounds(l.getBounds(), {maxZoom: 14});
        map.closePopup();
        pop.setLatLng(l.getCenter()).setContent(popup(d, l._gi)).openOn(map);
      }
      inp.addEventListener("input", function () {
        var q = inp.value.trim().toUpperCase(), n = 0, h = "";
        for (var i = 0; q.length >= 2 && i < d.code.length && n < 20; i++) {
          if (String(d.code[i]).toUpperCase().indexOf(q) >= 0) {
            h += "<option value='" + esc(d.code[i]) + "'>"; n++;
          }
        }
        list.innerHTML = h;
        go(false);
      });
      inp.addEventListener("keydown", function (e) { if (e.key === "Enter") { go(true); } });
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    return ctl.addTo(map);
  }
  return {polys: polys, units: units, legend: legend, search: search, layers: layers,
          popup: popup, esc: esc};
})();
"""

__all__ = ["CSS", "JS"]
