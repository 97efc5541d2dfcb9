// Popups and tooltips of displaced households: the village and the distance, nothing else.
// %(labels)s and %(villages)s are filled in by mapping/maps.py with JSON-escaped literals.
function(feature, layer) {
    var p = feature.properties || {};
    var LABELS = %(labels)s, VILLAGES = %(villages)s;
    function esc(s) {
        return String(s).replace(/[&<>"']/g, function (c) {
            return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
        });
    }
    function dist() {
        return p.d === null || p.d === undefined ? LABELS.unreachable
            : esc(LABELS.km.replace("{km}", p.d.toFixed(1)));
    }
    var village = VILLAGES[p.v];
    layer.bindPopup(function () {
        var out = "";
        if (village !== undefined) {
            out += "<tr><th>" + LABELS.village + "</th><td>" + esc(village) + "</td></tr>";
        }
        out += "<tr><th>" + LABELS.distance + "</th><td>" + dist() + "</td></tr>";
        return '<div class="gm-popup"><table class="gm-table">' + out + "</table></div>";
    }, %(popup_options)s);
    layer.bindTooltip(function () {
        return (village !== undefined ? esc(village) + " · " : "") + dist();
    }, {sticky: true});
}
