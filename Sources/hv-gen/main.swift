import HVEngine

// OpenBLAS picks its kernels when it loads: on CPUs it does not know, re-execute with the fast ones.
GenCommand.hvMain("hv-gen", prepare: BLAS.ensureFastKernels)
