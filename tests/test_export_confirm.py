"""The export dialogs (tensor `o`, trace `O`) ask before they overwrite a file: y or Enter
overwrites, n or Escape goes back to the file name; a new file is written without asking."""

import numpy as np

from ui_helpers import make_app, press, run_async, settle, text_of


async def _submit(pilot, app, path: str) -> None:
    app.screen.query_one("#path").value = path
    await pilot.press("enter")
    await settle(pilot)


@run_async
async def test_tensor_export_asks_before_overwriting(tmp_path, monkeypatch):
    from tuinn.tui.screens.export import ConfirmOverwrite, ExportDialog
    monkeypatch.chdir(tmp_path)
    (tmp_path / "W.csv").write_text("keep me\n")
    app = make_app("matrix")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f", "f", "up", "up", "o")      # matmul1 -> b -> W
        await _submit(pilot, app, "W.csv")
        assert isinstance(app.screen, ConfirmOverwrite)
        assert "W.csv exists. Overwrite it?" in text_of(app.screen.query_one("#question"))
        await press(pilot, "n")                          # n: back to the name, nothing written
        assert isinstance(app.screen, ExportDialog)
        assert (tmp_path / "W.csv").read_text() == "keep me\n"
        await _submit(pilot, app, "W.csv")
        await press(pilot, "escape")                     # Escape: back too
        assert isinstance(app.screen, ExportDialog)
        assert (tmp_path / "W.csv").read_text() == "keep me\n"
        await _submit(pilot, app, "W.csv")
        await press(pilot, "y")                          # y: overwrite
        await settle(pilot)
        assert not isinstance(app.screen, (ExportDialog, ConfirmOverwrite))
        rows = np.loadtxt(tmp_path / "W.csv", delimiter=",")
        np.testing.assert_allclose(rows, [[0.1, 0.5, -0.3], [0.8, -0.2, 0.4]])
        assert app.screen.message.startswith("saved W value to W.csv")


@run_async
async def test_trace_export_enter_confirms_and_new_files_need_no_question(tmp_path, monkeypatch):
    from tuinn.tui.screens.export import ConfirmOverwrite, ExportDialog
    monkeypatch.chdir(tmp_path)
    app = make_app("matrix")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f", "O")
        await _submit(pilot, app, "t.jsonl")             # new: written at once
        assert not isinstance(app.screen, (ExportDialog, ConfirmOverwrite))
        first = (tmp_path / "t.jsonl").read_text()
        assert first.count("\n") == 2 * 5 + 1
        (tmp_path / "t.jsonl").write_text("old\n")
        await press(pilot, "O")
        await _submit(pilot, app, "t.jsonl")
        assert isinstance(app.screen, ConfirmOverwrite)
        await press(pilot, "enter")                      # Enter: overwrite
        await settle(pilot)
        assert (tmp_path / "t.jsonl").read_text() == first


@run_async
async def test_export_to_a_folder_is_refused_in_the_dialog(tmp_path, monkeypatch):
    from tuinn.tui.screens.export import ExportDialog
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.npy").mkdir()
    app = make_app("matrix")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f", "f", "up", "up", "o")
        await _submit(pilot, app, "d.npy")
        assert isinstance(app.screen, ExportDialog)
        assert "is a folder" in text_of(app.screen.query_one("#error"))
        await press(pilot, "escape")
        assert not isinstance(app.screen, ExportDialog)
