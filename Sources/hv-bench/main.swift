import HVEngine

// OpenBLAS picks its kernels when it loads: on CPUs it does not know, re-execute with the fast ones; then flush
// subnormal floats to zero (HVEngine/Denormals.swift).
BenchCommand.hvMain("hv-bench", prepare: prepareEngineProcess)
