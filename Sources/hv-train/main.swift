import HVEngine

// OpenBLAS picks its kernels when it loads: on CPUs it does not know, re-execute with the fast ones.
TrainCommand.hvMain("hv-train", prepare: BLAS.ensureFastKernels)
