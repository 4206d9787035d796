"""Provides tests for the graph presenters the fitted picture relies on."""

from tuinn.tui.present import diagram_labels, pass_end


def test_pass_end_measures_the_whole_pass_and_comes_back(scenario):
    _, s = scenario("sigmoid-neuron")
    s.step(3)
    before = (s.tick, dict(s.tape.values))
    reserve, out = pass_end(s)
    assert (s.tick, s.tape.values.keys()) == (before[0], before[1].keys())
    assert out == "f = 0.7311"
    assert reserve["w0"][:2] == (1, 5)                  # "2" and "∇-0.2"
    assert reserve["exp1"][:2] == (4, 6)                # "0.37" and "∇-0.53"
    labels = diagram_labels(s)
    assert labels["exp1"].grad is None and labels["add1"].value == "4"


def test_tensor_labels_say_the_shape_once_and_have_a_short_form(scenario):
    _, s = scenario("matrix")
    s.run_to_end()
    lab = diagram_labels(s)["W"]
    assert lab.value.startswith("(2,3) μ=") and lab.grad.startswith("μ=")
    assert lab.short == (lab.value[len("(2,3) "):], lab.grad)
    assert diagram_labels(s)["f"].short is None          # a scalar: nothing to shorten
