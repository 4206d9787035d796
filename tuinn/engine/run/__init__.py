"""How run mode is fast: everything that trains many iterations without stepping.

- controller.py: Controller, the engine thread: every Session command off the UI, and
  run mode's loop (full speed or paced, bounded reports, stop at NaN/Inf or on pause).
- iteration.py: train_iteration, one iteration with less around it than a step
  (rows drawn once an epoch, no dx for the first layer, one optimizer call).
- fastpath.py: ChainPlans, one fused kernel call for a chain of dense and elementwise
  layers (kernels/chain.py).
- fusedstack.py: FusedStack, conv -> relu -> maxpool as one kernel each way
  (kernels/fused.py).
- lazygroup.py: LazyCache and GroupRecord, the caches the lean conv -> relu ->
  maxpool kernels leave out, made when read.
- bulk.py: run_chunk, `tuinn train`'s iterations of a dense chain many to one kernel
  call (kernels/flatchain.py's epoch kernels), the program brought up to date after.
- convbulk.py: ConvChainPlan, the same for a small CNN (a first conv -> relu -> maxpool,
  flatten, a dense chain: kernels/convchain.py).
- recbulk.py: LSTMChainPlan, the same for a first lstm with a dense head
  (kernels/recchain.py).
- packed.py: PackedParams, every parameter and gradient in two flat buffers (one
  optimizer call, one copy per snapshot).
- training.py: train, `tuinn train`'s epochs with running metrics and validation.
- gan_training.py: train_gan, `tuinn train`'s epochs of a gan (D and G losses).

Every fused path is checked against the step-by-step path (tests/test_fastpath.py,
tests/test_fused.py, tests/test_bulk.py, tests/test_convbulk.py,
tests/test_recbulk.py).
"""
