import HVEngine

// OpenBLAS picks its kernels when it loads: on CPUs it does not know, re-execute with the fast ones.
EncodeCommand.hvMain("hv-encode", prepare: BLAS.ensureFastKernels)
