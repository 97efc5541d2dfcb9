// On a small screen (a phone) the legend starts folded, as the layer list does: open, they
// would cover the title, the notice and half of the map. A tap on their title opens them.
(function () {
    if (!window.matchMedia || !window.matchMedia("(max-width: 600px)").matches) { return; }
    var legend = document.getElementById("gm-legend");
    if (legend && legend.tagName === "DETAILS") { legend.open = false; }
})();
