package dev.xgblora.cli.report;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SettingsGridTest {
    private static final Pattern CELL = Pattern.compile("<td class=\"cell\" data-value=\"([^\"]*)\" style=\"background:([^\"]*)\"");

    @Test
    void aThirdSettingGivesOneTablePerValueOnOneColourScale() {
        List<SettingsGrid.Point> points = List.of(
                new SettingsGrid.Point("0.002", "50", "2", 0.80), new SettingsGrid.Point("0.002", "200", "6", 0.84),
                new SettingsGrid.Point("0.001", "50", "2", 0.82), new SettingsGrid.Point("0.001", "200", "6", 0.86),
                new SettingsGrid.Point("0.001", "200", "6", 0.88), new SettingsGrid.Point("5.0E-4", "50", "6", Double.NaN));
        SettingsGrid g = new SettingsGrid("steps-per-booster", "layers-per-booster", "lr", "accuracy", points);
        // panels in numeric order; a run without a metric adds no panel
        assertEquals(List.of("0.001", "0.002"), g.panels());
        assertEquals(0.87, g.mean("0.001", "200", "6"), 1e-12, "seeds of one cell are averaged within their panel");
        assertEquals(0.84, g.mean("0.002", "200", "6"), 1e-12);
        assertTrue(Double.isNaN(g.mean("0.002", "50", "6")));
        String text = g.text();
        assertTrue(text.indexOf("lr = 0.001") < text.indexOf("lr = 0.002") && text.contains("0.8700 (n=2)"), text);

        String html = g.html(false);
        assertEquals(2, html.split("<table id=\"settings-grid-", -1).length - 1, html);
        List<String[]> cells = new ArrayList<>();
        Matcher m = CELL.matcher(html);
        while (m.find()) cells.add(new String[]{m.group(1), m.group(2)});
        assertEquals(8, cells.size(), "2 panels x 2 rows x 2 columns\n" + html);
        // one scale over both panels: the best cell (0.87, panel 0.001) darkest, the worst (0.80, panel 0.002) white
        assertEquals("rgb(100,200,100)", background(cells, 0.87), html);
        assertEquals("rgb(255,255,255)", background(cells, 0.80), html);
        // each panel's own best and worst are not the extremes of the shared scale: t = (0.84 - 0.80) / 0.07
        double t = (0.84 - 0.80) / (0.87 - 0.80);
        assertEquals(String.format("rgb(%d,%d,%d)", (int) (255 - 155 * t), (int) (255 - 55 * t), (int) (255 - 155 * t)), background(cells, 0.84), html);
        assertTrue(!background(cells, 0.82).equals("rgb(255,255,255)"), "0.82 is above the shared minimum\n" + html);
    }

    @Test
    void withoutAThirdSettingThePanelIsIgnored() {
        SettingsGrid g = new SettingsGrid("a", "b", "mcc", List.of(new SettingsGrid.Point("x", "1", "2", 0.3),
                new SettingsGrid.Point("y", "1", "2", 0.5)));
        assertEquals(0.4, g.mean("1", "2"), 1e-12);
        assertTrue(g.html(false).contains("<table id=\"settings-grid\">"));
    }

    private static String background(List<String[]> cells, double value) {
        for (String[] c : cells) {
            if (!c[0].isEmpty() && Math.abs(Double.parseDouble(c[0]) - value) < 1e-9) return c[1];
        }
        throw new AssertionError("no cell " + value);
    }
}
