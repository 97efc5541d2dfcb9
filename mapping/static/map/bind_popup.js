// Binding popups and tooltips from pre-escaped feature properties: the strings were escaped in
// Python, and Leaflet only ever gets them as HTML we built. A feature with a route (a village)
// draws it while its popup is open. %(popup_options)s is filled in by mapping/maps.py.
function(feature, layer) {
    var p = feature.properties || {};
    if (p.popup) { layer.bindPopup(p.popup, %(popup_options)s); }
    if (p.tip) { layer.bindTooltip(p.tip, {sticky: true}); }
    if (p.route) {
        layer.on("popupopen", function () {
            var map = layer._map;
            if (!map) { return; }
            var line = L.polyline(p.route, {color: "#6a3d9a", weight: 5, opacity: 0.85,
                                            interactive: false, className: "gm-route"});
            line.addTo(map);
            layer.once("popupclose", function () { map.removeLayer(line); });
        });
    }
}
