HVBench.hvMain("hv-bench")
