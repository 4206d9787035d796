"""MapPanel (the knn and GAN maps): after the terminal is resized, the next frame's grid
is the one the panel's new size asks for (its Resized message reaches the screen)."""

import pytest

from tuinn.tui.render.decision import DecisionMap
from tuinn.tui.widgets.gan_view import GanPlot
from tuinn.tui.widgets.knn_view import KnnPlot
from tuinn.tui.widgets.map_panel import MapPanel
from ui_helpers import make_app, run_async, settle


def wanted(panel: MapPanel) -> tuple[int, int]:
    return DecisionMap.grid_shape(max(8, panel.size.width),
                                  max(3, panel.size.height - panel.TEXT_ROWS))


@pytest.mark.parametrize("name,panel", [("knn-blobs", KnnPlot), ("gan-ring", GanPlot)])
@run_async
async def test_the_map_follows_the_panel_size(name, panel):
    app = make_app(name)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        plot = app.screen.query_one(panel)
        assert isinstance(plot, MapPanel)
        small = plot.grid_dims
        assert small == wanted(plot) and plot.frame.grid.shape == small
        await pilot.resize_terminal(120, 40)
        await settle(pilot)
        assert plot.grid_dims == wanted(plot) != small
        assert plot.frame.grid.shape == plot.grid_dims
