// Binding popups and tooltips from pre-escaped feature properties: the strings were escaped in
// Python, and Leaflet only ever gets them as HTML we built. %(popup_options)s is filled in by
// mapping/maps.py.
function(feature, layer) {
    var p = feature.properties || {};
    if (p.popup) { layer.bindPopup(p.popup, %(popup_options)s); }
    if (p.tip) { layer.bindTooltip(p.tip, {sticky: true}); }
}
