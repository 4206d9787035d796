"""Tests of the network screen's top panel showing the issue-13 layer views: the attention
maps inside the residual step that runs attention (with their panel keys), the
normalisation and embedding views, `w` back to the picture, and the embedding view
updating while the model trains."""

from __future__ import annotations

from ui_helpers import make_app, press, run_async, settle


def _shown(screen):
    from tuinn.tui.widgets.attention_view import AttentionView
    from tuinn.tui.widgets.embed_view import EmbedView
    from tuinn.tui.widgets.network_view import NetworkView
    from tuinn.tui.widgets.norm_view import NormView
    views = {"attn": AttentionView, "norm": NormView, "embed": EmbedView, "graph": NetworkView}
    on = [k for k, v in views.items() if screen.query_one(v).display]
    assert len(on) == 1, on
    return on[0], screen.query_one(views[on[0]])


@run_async
async def test_attention_view_follows_the_step_and_its_keys():
    app = make_app("transformer-chars")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "s")
        assert _shown(app.screen)[0] == "embed"                  # embedding1
        await press(pilot, "s", "s")                             # residual1: attention1
        name, view = _shown(app.screen)
        assert name == "attn" and app.screen.focused is view
        d = view.data
        assert (d.layer, d.head, d.query) == ("attention1", 0, 15)
        await press(pilot, "k", "h", "full_stop")                # query up, key left, head
        await settle(pilot)
        d = _shown(app.screen)[1].data
        assert (d.head, d.query) == (1, 14)
        assert app.screen.view_picks["attention1"][:2] == (1, 14)
        await press(pilot, "w")                                  # the network picture
        assert _shown(app.screen)[0] == "graph"
        await press(pilot, "w", "s")                             # layernorm1
        assert _shown(app.screen)[0] == "norm"


@run_async
async def test_norm_view_picks_a_feature():
    app = make_app("batchnorm-deep-sigmoid")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "s", "s", "j", "j")
        await settle(pilot)
        name, view = _shown(app.screen)
        assert name == "norm" and view.data.selected == 2 and view.data.mode == "train"


@run_async
async def test_embedding_view_updates_while_it_trains():
    app = make_app("word2vec")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await press(pilot, "s")
        name, view = _shown(app.screen)
        assert name == "embed" and view.data.iteration == 0
        await pilot.press("c")              # not press(): that would wait for the end
        for _ in range(100):                                     # run mode's reports
            await pilot.pause(0.05)
            if view.data.iteration > 0:
                break
        await press(pilot, "p")
        assert view.data.iteration > 0
