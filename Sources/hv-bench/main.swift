BenchCommand.hvMain("hv-bench")
