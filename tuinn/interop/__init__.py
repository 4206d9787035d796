"""Provides model import and export: ONNX and PyTorch models into scenarios, scenarios out to ONNX.

`tuinn import` reads an ONNX file (`onnx_import`), a PyTorch file (`torch_import`) or a
state dict that fills a scenario's layers (`statedict`), and writes a scenario with its
parameters (`scenario_writer`); `tuinn export --onnx` writes a network as ONNX
(`onnx_export`). The optional packages (onnx, torch) are imported only here, only when
asked for, through `extras.need`.
"""
