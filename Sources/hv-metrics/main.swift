MetricsCommand.hvMain("hv-metrics")
