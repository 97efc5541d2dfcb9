// Household popups and tooltips (full privacy): built in the browser from compact feature
// properties, every value from the data through esc(). %(labels)s, %(villages)s and
// %(nearest)s are filled in by mapping/maps.py with JSON-escaped literals, and __GM_LIMIT_M__
// with the threshold (m) when the map is drawn. km() is mapping.gaps.km_text: as many
// decimals as it takes for the number to agree with the threshold (p.d holds 4).
function(feature, layer) {
    var p = feature.properties || {};
    var LABELS = %(labels)s, VILLAGES = %(villages)s, NEAREST = %(nearest)s;
    function esc(s) {
        return String(s).replace(/[&<>"']/g, function (c) {
            return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
        });
    }
    var LIMIT_M = __GM_LIMIT_M__;
    function km(d) {
        var beyond = Math.round(d * 1e4) / 10 > LIMIT_M;
        for (var n = 1; n <= 3; n++) {
            var shown = Math.round(d * Math.pow(10, n)) / Math.pow(10, n);
            if ((Math.round(shown * 1e9) / 1e6 > LIMIT_M) === beyond) { return shown.toFixed(n); }
        }
        return d.toFixed(4);
    }
    function dist() {
        return p.d === null || p.d === undefined ? LABELS.unreachable
            : esc(LABELS.km.replace("{km}", km(p.d)));
    }
    layer.bindPopup(function () {
        var rows = [[LABELS.id, p.i], [LABELS.name, p.n], [LABELS.phone, p.p],
                    [LABELS.village, VILLAGES[p.v]], [LABELS.children, p.c]];
        var out = "";
        rows.forEach(function (r) {
            if (r[1] !== null && r[1] !== undefined) {
                out += "<tr><th>" + r[0] + "</th><td>" + esc(r[1]) + "</td></tr>";
            }
        });
        out += "<tr><th>" + LABELS.distance + "</th><td>" + dist() + "</td></tr>";
        if (p.t !== null && p.t !== undefined) {
            out += "<tr><th>" + LABELS.time + "</th><td>"
                + LABELS.minutes.replace("{min}", esc(p.t)) + "</td></tr>";
        }
        if (NEAREST[p.k] !== undefined) {
            out += "<tr><th>" + LABELS.nearest + "</th><td>" + esc(NEAREST[p.k]) + "</td></tr>";
        }
        return '<div class="gm-popup"><table class="gm-table">' + out + "</table></div>";
    }, %(popup_options)s);
    layer.bindTooltip(function () { return esc(p.i) + " · " + dist(); }, {sticky: true});
}
